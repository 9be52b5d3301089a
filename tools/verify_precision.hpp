// `bnfold verify` in precision mode: a model run in bfloat16, or an int8 QDQ
// model, judged against the float32 model (analysis/precision_check.hpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"
#include "tools/verify_cli.hpp"

namespace CLI {
class App;
}

namespace bnfold::cli {

struct PrecisionArgs {
  std::string precision;  // of the candidate: "" (fp32), "bf16"
  std::vector<std::string> data;
  std::string labels, data_key, label_key;
  int64_t samples = 256;
  double max_accuracy_drop = 1;     // points
  double max_relative_error = -1;   // < 0: the precision's default
};

void add_precision_options(CLI::App* cmd, PrecisionArgs& p);
// Whether verify judges precision: --precision given, or a quantized candidate.
bool precision_mode(const PrecisionArgs& p, const Graph& candidate);
// Runs it: prints (or --json), writes the report and the HTML page; the exit code.
struct PrecisionRun {
  std::string original_path, candidate_path, report, html;
  std::shared_ptr<Graph> original, candidate;
  bool json = false;
};
int run_precision_verify(const CLI::App& cmd, const PrecisionRun& run, const VerifyArgs& v, const PrecisionArgs& p);

extern const char* const kPrecisionHelp;

}  // namespace bnfold::cli
