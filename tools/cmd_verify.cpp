// bnfold verify ORIGINAL FOLDED: does a rewritten model (bnfold's fold, or
// any other tool's) compute the same function as the original, within
// float32's noise? The check `bnfold fold --verify` makes, on two files. And
// does a model in reduced precision (bf16, an int8 QDQ model) keep what the
// float32 model does, within what that precision may cost?
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bnfold/analysis/workflows.hpp"
#include "bnfold/graph/atomic_file.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "tools/commands.hpp"
#include "tools/fold_html.hpp"
#include "tools/arg_check.hpp"
#include "tools/verify_cli.hpp"
#include "tools/verify_precision.hpp"

namespace bnfold::cli {

namespace {

struct Args {
  std::string original, folded, report, html;
  bool json = false;
  VerifyArgs v;
  PrecisionArgs p;
};

int run(const CLI::App& cmd, const Args& a) {
  std::vector<NamedPath> inputs = with_input_files({{"the original model", a.original}, {"the folded model", a.folded}}, a.v);
  for (const auto& d : a.p.data) inputs.push_back({"--data", d});
  inputs.push_back({"--labels", a.p.labels});
  check_outputs_apart(inputs, {{"--report", a.report}, {"--html", a.html}});
  std::shared_ptr<Graph> original(load_onnx(a.original));
  BNFOLD_ARG_CHECK(!a.folded.empty() || !a.p.precision.empty(), ErrorCode::InvalidArgument,
                   "verify needs a second model (the folded or quantized one), or --precision to judge the first in "
                   "that precision");
  std::shared_ptr<Graph> folded(a.folded.empty() ? original : load_onnx(a.folded));
  if (precision_mode(a.p, *folded))
    return run_precision_verify(cmd, {a.original, a.folded.empty() ? a.original : a.folded, a.report, a.html,
                                      original, folded, a.json},
                                a.v, a.p);
  BNFOLD_ARG_CHECK(a.p.data.empty(), ErrorCode::InvalidArgument,
                   "--data is for judging a precision (--precision bf16, or an int8 model); a fold is verified on -i "
                   "inputs or random ones");
  const VerifyResult r = verify_fold(*original, *folded, nullptr, verify_options(a.v, Session(original)));
  nlohmann::json j = nlohmann::json::parse(verify_json(r));
  j["original"] = a.original;
  j["folded"] = a.folded;
  put_tolerances(j, a.v);
  if (a.json) fmt::print("{}\n", j.dump(2));
  else print_verification(r, a.v);
  if (!a.report.empty()) {
    write_file_atomic(a.report, j.dump(2) + "\n");
    if (!a.json) fmt::print("\nReport written to {}\n", a.report);
  }
  if (!a.html.empty()) {
    write_verify_html(a.html, a.original, a.folded, r, a.v);
    if (!a.json) fmt::print("HTML report written to {}\n", a.html);
  }
  return r.ok ? 0 : 1;
}

}  // namespace

void add_verify(CLI::App& app) {
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Check that a rewritten (e.g. folded) model computes what the original does, within float32 noise.");
  cmd->add_option("ORIGINAL", a->original, "The model as it was")->required();
  cmd->add_option("FOLDED", a->folded,
                  "The rewritten model (folded, or int8 QDQ); same inputs and outputs. With --precision it may be "
                  "left out: the original is judged in that precision");
  add_verify_options(cmd, a->v);
  add_precision_options(cmd, a->p);
  cmd->add_option("--report", a->report, "Write the verification as JSON here");
  cmd->add_option("--html", a->html, "Also write the verification as a self-contained HTML page with charts here");
  cmd->add_flag("--json", a->json, "Print JSON instead of text");
  add_threads_option(cmd, a->v.threads);
  cmd->footer(std::string(kVerifyHelp) + kPrecisionHelp +
              "Without a fold report, the values checked besides the outputs are the outputs\n"
              "of the original's BatchNormalization nodes that the rewritten model still has\n"
              "(bnfold's fold keeps those names). Exit code 1 when any value fails.\n\n"
              "Examples:\n"
              "  bnfold verify model.onnx model.folded.onnx\n"
              "  bnfold verify model.onnx model.folded.onnx -i input=x.npy --report verify.json --html verify.html\n"
              "  bnfold verify model.onnx other_tool_output.onnx --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225\n"
              "  bnfold verify model.onnx --precision bf16 --data val/ --labels subfolders\n"
              "  bnfold verify model.onnx model.int8.onnx --data x.npy --labels y.npy --max-accuracy-drop 0.5");
  on_run(cmd, [a, cmd] { return run(*cmd, *a); });
}

}  // namespace bnfold::cli
