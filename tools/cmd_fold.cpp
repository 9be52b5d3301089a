// bnfold fold IN -o OUT: fold every BatchNormalization that folds exactly,
// report each BN, optionally verify numerically and compare speed.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bnfold/graph/folded_bns.hpp"
#include "bnfold/graph/atomic_file.hpp"
#include "tools/arg_check.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
#include "tools/commands.hpp"
#include "tools/fold_html.hpp"
#include "tools/inputs.hpp"
#include "tools/text.hpp"
#include "tools/timing.hpp"
#include "bnfold/graph/batchnorm.hpp"
#include "tools/verify_cli.hpp"

namespace bnfold::cli {

namespace {

struct FoldArgs {
  std::string in, out;
  bool verify = false, bench = false, list_passes = false, verify_each = false;
  VerifyArgs v;
  std::string report, html, passes, bench_batches = "1,8";
  bool external_data = false, keep_failed = false, eval_mode = false, equalize = false;
};

// BNs of the model in training mode (they normalize with batch statistics).
int training_bns(const Graph& g) {
  int n = 0;
  for (const Node* node : g.topological_order())
    n += node->op_type() == "BatchNormalization" && node->domain().empty() && batchnorm_attrs(*node).training;
  return n;
}

std::string short_name(const std::string& n) {
  const std::string suffix = "/BatchNormalization";
  if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
    return n.substr(0, n.size() - suffix.size());
  return n;
}

void print_report(const FoldReport& report, bool measured) {
  const auto rows = report.rows();
  fmt::print("BatchNormalization: {} found: {} folded, {} folded forward, {} scale-shift, {} kept\n",
             rows.size(), report.count(FoldAction::Folded), report.count(FoldAction::FoldedForward), report.count(FoldAction::ScaleShift),
             report.count(FoldAction::Kept));
  if (rows.empty()) {
    fmt::print("  The model has no BatchNormalization node: nothing to fold. What is written is the model after\n"
               "  the pipeline's other passes (constant folding, dead code), not a faster one.\n");
    return;
  }
  // The BN and action columns share what the terminal leaves; names are cut
  // in the middle, never so that two rows read the same.
  std::vector<std::string> bns, verbs, targets;
  for (const auto& r : rows) {
    bns.push_back(short_name(r.bn));
    const bool into = r.action == FoldAction::Folded || r.action == FoldAction::FoldedForward;
    verbs.push_back(r.action == FoldAction::Folded          ? "folded into "
                    : r.action == FoldAction::FoldedForward ? "into following "
                                                            : to_string(r.action));
    targets.push_back(into ? r.target : "");
  }
  const size_t fixed = 2 + 12 + 2 + (measured ? 17 : 0), both = terminal_width() > fixed ? terminal_width() - fixed : 40;
  const size_t bn_w = std::min(column_width(bns, 0), std::max<size_t>(12, both * 2 / 5));
  size_t verb_w = 0, act_w = 6;
  for (size_t i = 0; i < rows.size(); ++i) verb_w = std::max(verb_w, verbs[i].size());
  for (size_t i = 0; i < rows.size(); ++i) act_w = std::max(act_w, verbs[i].size() + targets[i].size());
  act_w = std::min(act_w, std::max<size_t>(verb_w + 10, both - bn_w));
  bns = fit_names(bns, bn_w);
  std::vector<size_t> target_w;
  for (const auto& v : verbs) target_w.push_back(act_w - v.size());
  targets = fit_names(targets, target_w);
  std::vector<std::string> actions;
  for (size_t i = 0; i < rows.size(); ++i) actions.push_back(verbs[i] + targets[i]);
  fmt::print("  {:<{}} {:<11} {:<{}} {}\n", "BN", bn_w, "producer", "action", act_w, measured ? "error / alone" : "");
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    std::string err = r.max_abs_error >= 0 ? fmt::format("{:.1e}", r.max_abs_error) : "";
    if (r.isolated_error >= 0) err += fmt::format(" / {:.1e}", r.isolated_error);
    fmt::print("  {:<{}} {:<11} {:<{}} {}\n", bns[i], bn_w, fit(r.producer_op, 11), actions[i], act_w, err);
  }
  bool header = false;
  for (const auto& r : rows) {
    if (r.action != FoldAction::ScaleShift && r.action != FoldAction::Kept) continue;
    if (!header) fmt::print("  Why not folded:\n");
    header = true;
    fmt::print("    {}: {}\n", short_name(r.bn), r.describe());
  }
}

uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

nlohmann::json bench(const std::string& original, const std::string& folded, const FoldArgs& a) {
  SessionOptions so;
  so.threads = a.v.threads;
  Session s1(original, so), s2(folded, so);
  nlohmann::json rows = nlohmann::json::array();
  fmt::print("\nSpeed (bnfold's executor, {} threads; the two run in alternating pairs for 2 s;\n"
             "speedup: the median over pairs of original / folded, and its 95% interval):\n",
             a.v.threads ? std::to_string(a.v.threads) : std::string("all"));
  for (int64_t b : parse_int_list(a.bench_batches, "--bench-batch")) {
    const auto inputs = random_inputs(s1, b, a.v.seed);
    TimingPlan plan;
    plan.min_runs = 7;
    const PairedTiming t = time_pairs([&] { s1.run(inputs); }, [&] { s2.run(inputs); }, plan);
    fmt::print("  batch {:>3}: original {:.3g} ms, folded {:.3g} ms: {:.2f}x ({:.2f}-{:.2f}, {} pairs)\n", b,
               t.median_a, t.median_b, t.speedup, t.low, t.high, t.a_ms.size());
    if (t.too_noisy()) fmt::print("    too noisy to quote: rerun on a quieter machine\n");
    rows.push_back({{"batch", b},
                    {"original_ms", t.median_a},
                    {"folded_ms", t.median_b},
                    {"speedup", t.speedup},
                    {"speedup_low", t.low},
                    {"speedup_high", t.high},
                    {"pairs", t.a_ms.size()},
                    {"too_noisy", t.too_noisy()}});
  }
  return rows;
}

int run(const FoldArgs& a) {
  if (a.list_passes) {
    fmt::print("The default pipeline, in order:\n");
    for (const auto& p : default_pipeline()) fmt::print("  {:<27} {}\n", p.name, p.why);
    return 0;
  }
  BNFOLD_ARG_CHECK(!a.in.empty() && !a.out.empty(), ErrorCode::InvalidArgument, "give the model and -o OUT.onnx");
  // Every output path is checked before any work: a bad one must not cost a
  // fold, and none may replace the model or another output.
  check_outputs_apart(with_input_files({{"the input model", a.in}}, a.v), {{"-o", a.out}, {"--report", a.report}, {"--html", a.html}});
  std::shared_ptr<Graph> original(load_onnx(a.in));
  FoldModelOptions fo;
  fo.pipeline.verify_each = a.verify_each;
  fo.pipeline.passes = split_list(a.passes);
  fo.verify = a.verify;
  fo.eval_mode = a.eval_mode;
  fo.equalize = a.equalize;
  if (a.verify) fo.verify_options = verify_options(a.v, Session(original));
  const FoldResult result = fold_model(*original, fo);
  const FoldReport& report = result.report;
  const Graph& folded = *result.model;
  const int training = training_bns(*original);
  if (a.eval_mode)
    fmt::print("Switched {} of {} BatchNormalization nodes in training mode to inference mode (their running "
               "statistics),\n  as PyTorch's model.eval(); what follows compares with that model.\n",
               result.converted.size(), training);
  print_report(report, a.verify);
  if (const auto& e = result.equalization)
    fmt::print("\nCross-layer equalization (for int8 with per-tensor weight scales): {}; layers per-tensor safe "
               "{} -> {} of {},\n  the lowest per-tensor weight SQNR {:.1f} -> {:.1f} dB (inspect --quantization "
               "has each layer)\n",
               e->changed ? "done" : "nothing to balance", e->safe_before, e->safe_after, e->layers,
               e->worst_before, e->worst_after);
  if (!a.eval_mode && training > 0)
    fmt::print("\nThis model computes with batch statistics: its {} BatchNormalization node{} in training mode\n"
               "normalize{} each batch by its own mean and variance, so a sample's output depends on the rest\n"
               "of its batch, and at batch size 1 on itself alone. To serve it with the running statistics it\n"
               "carries (PyTorch's model.eval()): bnfold fold {} --eval-mode -o OUT.onnx\n",
               training, training == 1 ? "" : "s", training == 1 ? "s" : "", a.in);

  // A fold that fails its verification is not written, unless asked for.
  const bool failed = a.verify && !result.verification->ok;
  if (!failed || a.keep_failed) {
    ExportOptions eo;
    if (a.external_data) eo.external_file = std::filesystem::path(a.out).filename().string() + ".data";
    save_onnx(folded, a.out, eo);  // checked by the ONNX checker before it is moved to -o
    fmt::print("\nWrote {}\n  {}, {} nodes; the ONNX checker accepts it\n", a.out,
               human_bytes(file_size_or_zero(a.out)), folded.num_nodes());
    // Smaller weights, yet maybe a larger file: say what the difference is.
    const uint64_t before = file_size_or_zero(a.in), after = file_size_or_zero(a.out);
    const std::string* records = metadata_value(folded, kFoldedBnsKey);
    if (after > before && records)
      fmt::print("  larger than the original ({}): {} of metadata_props record where\n"
                 "  each removed BN can still be measured for drift, and its statistics\n",
                 human_bytes(before), human_bytes(records->size()));
    const size_t recorded = folded_bns(folded).size();
    if (report.folded() + report.count(FoldAction::ScaleShift) > 0)
      fmt::print("  {} of the {} BNs removed can still be monitored for drift\n", recorded,
                 report.folded() + report.count(FoldAction::ScaleShift));
  } else {
    fmt::print("\nNot written: the verification failed (--keep-failed writes it anyway)\n");
  }

  nlohmann::json j = nlohmann::json::parse(fold_json(result));
  if (a.verify) {
    print_verification(*result.verification, a.v);
    put_tolerances(j["verification"], a.v);
  }
  if (a.bench && (!failed || a.keep_failed)) j["speed"] = bench(a.in, a.out, a);
  if (!a.html.empty()) {
    write_fold_html(a.html, a.in, !failed || a.keep_failed ? a.out : "", report,
                    a.verify ? &*result.verification : nullptr, a.v, j.value("speed", nlohmann::json()));
    fmt::print("\nHTML report written to {}\n", a.html);
  }
  if (!a.report.empty()) {
    j["model"] = a.in;
    j["output_model"] = a.out;
    write_file_atomic(a.report, j.dump(2) + "\n");
    fmt::print("\nReport written to {}\n", a.report);
  }
  return a.verify && !result.verification->ok ? 1 : 0;
}

}  // namespace

void add_fold(CLI::App& app) {
  auto a = std::make_shared<FoldArgs>();
  CLI::App* cmd = app.add_subcommand(
      "fold", "Fold BatchNormalization into the Conv/ConvTranspose/Gemm/MatMul next to it and write the model.");
  cmd->add_option("MODEL", a->in, "ONNX model to fold");
  cmd->add_option("-o,--output", a->out, "Where to write the folded model");
  cmd->add_flag("--verify", a->verify,
                "Check the folded model against the original in float64 (exit 1 beyond tolerance; see below)");
  add_verify_options(cmd, a->v);
  cmd->add_option("--report", a->report, "Write the per-BN report (and verification, speed) as JSON here");
  cmd->add_option("--html", a->html, "Also write the report as a self-contained HTML page with charts here");
  cmd->add_option("--passes", a->passes, "Comma-separated passes to run instead of the default pipeline");
  cmd->add_flag("--list-passes", a->list_passes, "Print the default pipeline with the reason for each pass");
  cmd->add_flag("--verify-each", a->verify_each, "Check the graph's invariants after every pass (slower)");
  cmd->add_flag("--bench", a->bench, "Also time original and folded with bnfold's executor");
  cmd->add_flag("--eval-mode", a->eval_mode,
                "First switch BatchNormalization nodes in training mode (training_mode=1, exported with "
                "TrainingMode.TRAINING) to inference mode, using the running statistics the model carries "
                "(PyTorch's model.eval()); then they fold. --verify compares with that inference-mode model");
  cmd->add_flag("--equalize", a->equalize,
                "After folding, even out the per-channel weight ranges of consecutive layers (through a ReLU) "
                "by cross-layer equalization, for int8 with per-tensor scales; the function is unchanged "
                "(--verify checks it)");
  cmd->add_option("--bench-batch", a->bench_batches, "Batch sizes for --bench")->capture_default_str();
  cmd->add_flag("--external-data", a->external_data, "Write weights to OUT.data next to the model");
  cmd->add_flag("--keep-failed", a->keep_failed, "Write the folded model even when --verify fails");
  add_threads_option(cmd, a->v.threads, "Threads for --verify and --bench (0: one per core)");
  cmd->footer(
      "A BN right after a Conv, ConvTranspose (grouped too), Gemm or MatMul is folded\n"
      "into its weights: W' = W * s, b' = (b - mean) * s + beta, s = gamma/sqrt(var+eps),\n"
      "in double. A BN before an unpadded Conv, a Gemm or a MatMul folds forward.\n"
      "Any other inference BN becomes one precomputed per-channel Mul+Add. Each BN\n"
      "is reported with what happened or why not (a producer with 2 consumers,\n"
      "padding, training mode, var + eps <= 0 at channel c, float16 overflow...).\n"
      "Output names are kept.\n\n" + std::string(kVerifyHelp) + "\n"
      "Examples:\n"
      "  bnfold fold models/tiny_resnet.onnx -o tiny_folded.onnx --verify --bench\n"
      "  bnfold fold model.onnx -o folded.onnx --verify -i input=x.npy --report r.json --html fold.html\n"
      "  bnfold fold --list-passes");
  on_run(cmd, [a] { return run(*a); });
}

}  // namespace bnfold::cli
