// bnfold verify ORIGINAL FOLDED: does a rewritten model (bnfold's fold, or
// any other tool's) compute the same function as the original, within
// float32's noise? The check `bnfold fold --verify` makes, on two files.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bnfold/analysis/workflows.hpp"
#include "bnfold/graph/atomic_file.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "tools/commands.hpp"
#include "tools/fold_html.hpp"
#include "tools/verify_cli.hpp"

namespace bnfold::cli {

namespace {

struct Args {
  std::string original, folded, report, html;
  bool json = false;
  VerifyArgs v;
};

int run(const Args& a) {
  check_outputs_apart(with_input_files({{"the original model", a.original}, {"the folded model", a.folded}}, a.v),
                      {{"--report", a.report}, {"--html", a.html}});
  std::shared_ptr<Graph> original(load_onnx(a.original));
  std::shared_ptr<Graph> folded(load_onnx(a.folded));
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
  cmd->add_option("FOLDED", a->folded, "The rewritten model; same inputs and outputs")->required();
  add_verify_options(cmd, a->v);
  cmd->add_option("--report", a->report, "Write the verification as JSON here");
  cmd->add_option("--html", a->html, "Also write the verification as a self-contained HTML page with charts here");
  cmd->add_flag("--json", a->json, "Print JSON instead of text");
  add_threads_option(cmd, a->v.threads);
  cmd->footer(std::string(kVerifyHelp) +
              "Without a fold report, the values checked besides the outputs are the outputs\n"
              "of the original's BatchNormalization nodes that the rewritten model still has\n"
              "(bnfold's fold keeps those names). Exit code 1 when any value fails.\n\n"
              "Examples:\n"
              "  bnfold verify model.onnx model.folded.onnx\n"
              "  bnfold verify model.onnx model.folded.onnx -i input=x.npy --report verify.json --html verify.html\n"
              "  bnfold verify model.onnx other_tool_output.onnx --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225");
  on_run(cmd, [a] { return run(*a); });
}

}  // namespace bnfold::cli
