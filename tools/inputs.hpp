// Shared by run, bench (and later fold/audit): model inputs from files given
// as --input name=path, or random ones.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bnfold/runtime/session.hpp"

namespace bnfold::cli {

// Splits "name=path"; a bare "path" is allowed when the model has one input.
std::map<std::string, std::string> parse_named_files(const std::vector<std::string>& items,
                                                     const Session& session, const char* option);

// Loads --input files (.npy or .pb); inputs not given are random with `batch`.
std::map<std::string, Tensor> load_or_random_inputs(const Session& session, const std::vector<std::string>& items,
                                                     int64_t batch, uint64_t seed);

}  // namespace bnfold::cli
