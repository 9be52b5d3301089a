// The verification options `bnfold fold --verify` and `bnfold verify` share,
// and the one way both print a verification.
#pragma once

#include <string>
#include <vector>

#include "bnfold/analysis/verify_fold.hpp"
#include "bnfold/graph/atomic_file.hpp"
#include "bnfold/runtime/session.hpp"

namespace CLI {
class App;
}

namespace bnfold::cli {

struct VerifyArgs {
  std::vector<std::string> inputs;
  int64_t batch = 2;
  uint64_t seed = 0;
  double rtol = 1e-4, atol = -1, noise_factor = 4;
  std::string mean, std;
  bool float32_reference = false, no_isolated = false;
  int threads = 0;
};

void add_verify_options(CLI::App* cmd, VerifyArgs& a);
// `inputs` and the files of -i NAME=PATH, for check_outputs_apart.
std::vector<NamedPath> with_input_files(std::vector<NamedPath> inputs, const VerifyArgs& a);
// The library's options from the parsed ones; `session` (of the original)
// reads the -i files against the model's inputs.
VerifyOptions verify_options(const VerifyArgs& a, const Session& session);
void print_verification(const VerifyResult& r, const VerifyArgs& a);
// The tolerances as a report states them, into `report` (a JSON object's text
// is the caller's): rtol, and atol as a number, or null with the rule it
// stands for when it is relative to each value ("atol_rule").
template <typename Json>
void put_tolerances(Json& report, const VerifyArgs& a) {
  report["rtol"] = a.rtol;
  if (a.atol >= 0) {
    report["atol"] = a.atol;
  } else {
    report["atol"] = nullptr;
    report["atol_rule"] = "1e-4 x the largest |value| of each compared value (its own atol in 'values')";
  }
}
// The footer text both commands end their --help with.
extern const char* const kVerifyHelp;

}  // namespace bnfold::cli
