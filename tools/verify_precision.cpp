// `bnfold verify` in precision mode (tools/verify_precision.hpp).
#include "tools/verify_precision.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <nlohmann/json.hpp>

#include "bnfold/analysis/html.hpp"
#include "bnfold/analysis/precision_check.hpp"
#include "tools/arg_check.hpp"
#include "tools/commands.hpp"
#include "tools/data_cli.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

const char* const kPrecisionHelp =
    "\nReduced precision: with --precision bf16 (the second model, or the first alone,\n"
    "runs in bfloat16), or when the second model is quantized (an int8 QDQ model,\n"
    "from `bnfold quantize` or ONNX Runtime's quantizer), verify judges what the\n"
    "precision costs instead of float32 noise. Both run on the same samples (--data,\n"
    "or -i, or random data-like inputs; --samples of them); each output's relative\n"
    "RMS error against the float32 model is reported, and for the first batch also\n"
    "against float64, beside float32's own error. With labels and class scores the\n"
    "verdict is the accuracy lost (--max-accuracy-drop, 1 point); otherwise each\n"
    "output's relative RMS error (--max-relative-error: 2% for bf16, 5% for int8).\n"
    "With --data of images, --mean/--std are their normalization.\n\n";

void add_precision_options(CLI::App* cmd, PrecisionArgs& p) {
  cmd->add_option("--precision", p.precision,
                  "Judge the second model (or the first alone) run in this precision: bf16")
      ->check(CLI::IsMember({"bf16", "bfloat16"}));
  cmd->add_option("-d,--data", p.data,
                  "Precision mode: samples to compare on (a folder, .npy/.npz/.pb files, images); repeatable");
  cmd->add_option("--labels", p.labels, "Precision mode: class labels (.npy/.npz, or 'subfolders')");
  cmd->add_option("--data-key", p.data_key, ".npz: the array that holds the data");
  cmd->add_option("--label-key", p.label_key, ".npz: the array that holds the labels");
  in_range(cmd->add_option("--samples", p.samples, "Precision mode: compare on at most this many samples")
               ->capture_default_str(),
           1, 1e9);
  in_range(cmd->add_option("--max-accuracy-drop", p.max_accuracy_drop,
                           "Precision mode with labels: top-1 accuracy points the precision may lose")
               ->capture_default_str(),
           0, 100);
  in_range(cmd->add_option("--max-relative-error", p.max_relative_error,
                           "Precision mode without labels: relative RMS error allowed per output (default 0.02 "
                           "bf16, 0.05 int8)"),
           0, kNoLimit);
}

bool precision_mode(const PrecisionArgs& p, const Graph& candidate) {
  return !p.precision.empty() || is_quantized_model(candidate);
}

namespace {

std::string pct(double v) { return v >= 0 && std::isfinite(v) ? fmt::format("{:.3g}%", 100 * v) : "-"; }

void print_check(const PrecisionRun& run, const PrecisionCheck& r) {
  fmt::print("{} ({}) against float32 ({})\n", r.precision, run.candidate_path, run.original_path);
  fmt::print("  {}\n", wrap(fmt::format("{} samples: {}", r.samples, r.inputs), 78, "    "));
  fmt::print("  {:<20} {:>10} {:>10} {:>12} {:>12} {:>8}\n", "output", "rel. RMS", "max abs", "vs float64",
             "fp32 vs f64", "top-1 =");
  for (const auto& c : r.outputs)
    fmt::print("  {:<20} {:>10} {:>10.3g} {:>12} {:>12} {:>8}\n", fit(c.name, 20), pct(c.relative_rms), c.max_abs,
               pct(c.relative_rms_f64), pct(c.float32_rms_f64), pct(c.agreement));
  fmt::print("  (rel. RMS and max abs against the float32 model; vs float64 on the first {} samples;\n"
             "   top-1 =: share of samples whose top class is float32's)\n",
             r.float64_samples);
  if (r.accuracy_float32 >= 0)
    fmt::print("  top-1 accuracy: float32 {:.2f}%, {} {:.2f}%\n", 100 * r.accuracy_float32, r.precision,
               100 * r.accuracy_candidate);
  fmt::print("\nVerdict:\n");
  for (const auto& line : r.verdict) fmt::print("  - {}\n", wrap(line, 76, "    "));
}

void write_page(const PrecisionRun& run, const PrecisionCheck& r) {
  std::vector<std::vector<std::string>> rows = {
      {"output", "relative RMS vs float32", "max abs", "vs float64", "float32 vs float64", "top-1 agreement", "verdict"}};
  for (const auto& c : r.outputs)
    rows.push_back({c.name, pct(c.relative_rms), fmt::format("{:.3g}", c.max_abs), pct(c.relative_rms_f64),
                    pct(c.float32_rms_f64), pct(c.agreement), c.verdict});
  HtmlSections sections = {{"Outputs", html_table(rows)}};
  if (r.accuracy_float32 >= 0) {
    ChartOptions share;
    share.y_title = "top-1 accuracy";
    share.y_max = 1;
    share.percent = true;
    sections.push_back({"Accuracy", svg_bars("Top-1 accuracy", {r.scores_output},
                                             {{"float32", {r.accuracy_float32}}, {r.precision, {r.accuracy_candidate}}},
                                             share)});
  }
  std::vector<std::string> paragraphs = r.verdict;
  paragraphs.push_back(fmt::format("{} ({}) against float32 ({}), {} samples: {}.", r.precision, run.candidate_path,
                                   run.original_path, r.samples, r.inputs));
  write_html(run.html, fmt::format("bnfold verify: {}", r.precision), paragraphs, sections);
}

}  // namespace

int run_precision_verify(const CLI::App& cmd, const PrecisionRun& run, const VerifyArgs& v, const PrecisionArgs& p) {
  for (const char* fold_only : {"--rtol", "--atol", "--noise-factor", "--no-isolated"})
    BNFOLD_ARG_CHECK(cmd.count(fold_only) == 0, ErrorCode::InvalidArgument,
                     "{} is a tolerance of fold verification; a precision is judged by --max-accuracy-drop and "
                     "--max-relative-error",
                     fold_only);
  BNFOLD_ARG_CHECK(p.data.empty() || v.inputs.empty(), ErrorCode::InvalidArgument,
                   "give the samples with --data or with -i, not both");
  BNFOLD_ARG_CHECK(!p.data.empty() || p.labels.empty(), ErrorCode::InvalidArgument, "--labels needs --data");
  PrecisionCheckOptions o;
  Session session(run.original);
  const VerifyOptions vo = verify_options(v, session);
  o.inputs = vo.inputs;
  o.mean = vo.mean;
  o.std = vo.std;
  o.seed = v.seed;
  o.samples = p.samples;
  o.batch = cmd.count("--batch") ? v.batch : 8;
  o.float64_reference = !v.float32_reference;
  o.max_accuracy_drop = p.max_accuracy_drop / 100;
  o.max_relative_error = p.max_relative_error;
  o.threads = v.threads;
  std::optional<Dataset> data;
  if (!p.data.empty()) {
    DataArgs d;
    d.model = run.original_path;
    d.data = p.data;
    d.labels = p.labels;
    d.data_key = p.data_key;
    d.label_key = p.label_key;
    d.mean = v.mean;
    d.std_ = v.std;
    data = load_data(d, *run.original);
    o.data = &*data;
  }
  const Precision prec = p.precision.empty() ? Precision::Float32 : parse_precision(p.precision);
  const PrecisionCheck r = check_precision(run.original, run.candidate, prec, o);
  nlohmann::json j = nlohmann::json::parse(precision_json(r));
  j["original"] = run.original_path;
  j["candidate"] = run.candidate_path;
  if (run.json) fmt::print("{}\n", j.dump(2));
  else print_check(run, r);
  if (!run.report.empty()) {
    write_file_atomic(run.report, j.dump(2) + "\n");
    if (!run.json) fmt::print("\nReport written to {}\n", run.report);
  }
  if (!run.html.empty()) {
    write_page(run, r);
    if (!run.json) fmt::print("HTML report written to {}\n", run.html);
  }
  return r.ok ? 0 : 1;
}

}  // namespace bnfold::cli
