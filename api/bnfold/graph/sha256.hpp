// SHA-256 (FIPS 180-4), for provenance: a recalibrated model records the
// digest of the model it came from.
#pragma once

#include "bnfold/graph/export.hpp"

#include <string>

namespace bnfold BNFOLD_API {

// Lower-case hex digest of the bytes.
std::string sha256_hex(const std::string& bytes);
// The digest of a file's contents; throws bnfold::Error when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace bnfold
