// bnfold drift: has the data left what the model learned? A verdict per
// layer against a baseline or the running statistics.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include "bnfold/analysis/html.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "tools/arg_check.hpp"
#include "tools/commands.hpp"
#include "tools/data_cli.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

namespace {

struct DriftArgs : DataArgs {
  std::string save_stats, baseline;
  std::vector<std::string> merge;
  double fail_above = -1, threshold = 4, min_effect = -1;
  int64_t min_samples = 30;
  bool fail_on_drift = false;
};

std::string percent(double v) { return fmt::format("{:.0f}%", 100 * v); }

// When, on what model and on which data the verdict was made (also in --json).
std::string provenance_line(const DriftReport& r) {
  const StatsProvenance& d = r.data;
  std::string when = d.collected_from.empty() && d.collected_until.empty()
                         ? ""
                         : fmt::format(", collected {} to {}", d.collected_from.empty() ? "?" : d.collected_from,
                                       d.collected_until.empty() ? "?" : d.collected_until);
  return fmt::format("Judged {} against {} (sha256 {}); data: {}{}", r.time, r.model,
                     r.model_sha256.empty() ? "unknown" : r.model_sha256.substr(0, 12),
                     d.sources.empty() ? "unknown" : fmt::format("{}", fmt::join(d.sources, "; ")), when);
}

void print_drift(const DriftReport& r) {
  std::vector<LayerDrift> ranked = r.layers;
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.ratio > y.ratio; });
  fmt::print("Verdict: {}\n", to_string(r.verdict));
  for (const auto& s : r.summary) fmt::print("  {}\n", s);
  fmt::print("  {}\n", provenance_line(r));
  fmt::print("\nPer layer, against the {} ({} samples{}), most drifted first:\n", r.reference, r.samples,
             r.baseline_samples ? fmt::format("; baseline {}", r.baseline_samples) : "");
  std::vector<std::string> names;
  for (const auto& l : ranked) names.push_back(l.bn);
  const bool base = r.baseline_samples > 0;
  const std::string suffix = strip_shared_suffix(names);
  const size_t w = column_width(names, 2 + 52 + (base ? 10 : 0), 16);
  names = fit_names(names, w);
  fmt::print("  {:<{}} {:>8} {:>8} {:>7} {:>8} {:>7} {:>8}{}\n", "BN", w, "distance", "x noise", "drifted", "mean>3sd",
             "var out", "score", base ? "  baseline" : "");
  for (size_t i = 0; i < ranked.size(); ++i) {
    const LayerDrift& l = ranked[i];
    fmt::print("  {:<{}} {:>8.3g} {:>8.3g} {:>7} {:>8} {:>7} {:>8.3g}{}\n", names[i], w, l.distance, l.ratio,
               l.drifted ? "yes" : "-", percent(l.shifted_share), percent(l.var_shift_share), l.score,
               base ? fmt::format(" {:>9}", l.baseline_score >= 0 ? fmt::format("{:.3g}", l.baseline_score) : "") : "");
  }
  if (!suffix.empty()) fmt::print("  (every BN name ends in {})\n", suffix);
  fmt::print("  distance: mean over channels of the symmetric KL divergence between the data's\n"
             "  Gaussian and the reference's (scale-free); x noise: distance / what sampling\n"
             "  alone gives, comparable across layers; mean>3sd: channels whose mean moved more\n"
             "  than 3 reference sd; var out: channels whose variance ratio left [0.5, 2];\n"
             "  score: distance from the model's running statistics{}.\n",
             r.baseline_samples ? " (baseline: the baseline's own)" : "");
}

void write_drift_html(const DriftArgs& a, const DriftReport& r) {
  write_html(a.html, "bnfold drift: " + a.model, drift_html_paragraphs(r), drift_html_sections(r));
  fmt::print(stderr, "HTML report written to {}\n", a.html);
}

int run_drift(const DriftArgs& a) {
  std::vector<NamedPath> inputs = {{"--baseline", a.baseline}};
  for (const auto& m : a.merge) inputs.push_back({"--merge", m});
  check_outputs(a, {{"--save-stats", a.save_stats}}, inputs);
  const AnalysisModel model = AnalysisModel::load(a.model);
  BnInputStats baseline;
  if (!a.baseline.empty()) baseline = BnInputStats::load(a.baseline);
  DriftRequest q;
  for (const auto& f : a.merge) q.statistics.push_back(BnInputStats::load(f));
  if (!a.merge.empty()) {
    int64_t merged = 0;
    for (const auto& s : q.statistics) merged += s.samples;
    fmt::print(stderr, "merged {} statistics files ({} samples)\n", a.merge.size(), merged);
  }
  std::optional<Dataset> d;
  if (!a.data.empty()) d = load_data(a, model.graph());
  BNFOLD_ARG_CHECK(d || !a.merge.empty(), ErrorCode::InvalidArgument, "give --data, or --merge statistics files");
  q.data = d ? &*d : nullptr;
  for (const auto& path : a.data) q.data_source += (q.data_source.empty() ? "" : ", ") + path;
  q.batch = a.batch;
  q.threads = a.threads;
  q.progress = progress_bar("collecting statistics");
  q.options.baseline = a.baseline.empty() ? nullptr : &baseline;
  q.options.threshold = a.threshold;
  q.options.min_effect = a.min_effect;
  q.options.min_samples = a.min_samples;
  const DriftResult result = drift_model(model, q);
  const DriftReport& r = result.report;
  if (!a.save_stats.empty()) {
    result.stats.save(a.save_stats);
    fmt::print(stderr, "statistics saved to {}\n", a.save_stats);
  }
  if (r.verdict == DriftVerdict::TooFewSamples)
    fmt::print(stderr, "warning: only {} samples (--min-samples {}): too few for a verdict\n", r.samples,
               a.min_samples);
  if (a.json) std::cout << drift_json(r) << "\n";
  else print_drift(r);
  if (!a.html.empty()) write_drift_html(a, r);
  if (a.fail_on_drift && r.verdict == DriftVerdict::Drifted) {
    fmt::print(stderr, "bnfold: the data drifted (--fail-on-drift)\n");
    return 3;
  }
  if (a.fail_above >= 0 && r.max_score > a.fail_above) {
    fmt::print(stderr, "bnfold: drift score {:.4g} is above --fail-above {:g}\n", r.max_score, a.fail_above);
    return 3;
  }
  return 0;
}

}  // namespace

void add_drift(CLI::App& app) {
  auto da = std::make_shared<DriftArgs>();
  CLI::App* drift = app.add_subcommand("drift", "Has the data left what the model's BNs learned? A verdict.");
  add_data_options(drift, *da, false);
  drift->add_option("--baseline", da->baseline,
                    "Statistics of in-distribution data (from --save-stats) to compare against instead of the "
                    "model's running statistics");
  drift->add_option("--save-stats", da->save_stats, "Save the accumulated statistics (a baseline, or a shard to merge)");
  drift->add_option("--merge", da->merge, "Statistics files (from --save-stats) to merge; repeatable");
  in_range(drift->add_option("--threshold", da->threshold,
                             "A layer drifted when its distance is above this many times the sampling noise")
               ->capture_default_str(),
           0, kNoLimit);
  in_range(drift->add_option("--min-effect", da->min_effect,
                             "...and above this distance (default 0.25: a mean moved by 0.5 sd, a variance doubled; `bnfold shift-study` suggests one for your model)"),
           0, kNoLimit);
  in_range(drift->add_option("--min-samples", da->min_samples, "Fewer samples give the verdict too-few-samples")
               ->capture_default_str(),
           1, 1e12);
  drift->add_flag("--fail-on-drift", da->fail_on_drift, "Exit with code 3 when the verdict is drifted");
  in_range(drift->add_option("--fail-above", da->fail_above,
                             "Exit with code 3 when the largest layer score (vs running statistics) is above this"),
           0, kNoLimit);
  drift->footer(
      "Runs the data in inference mode and accumulates every BN input's per-channel\n"
      "mean and variance (Chan's formula: shards saved with --save-stats merge exactly).\n"
      "Each layer is compared with a reference: a baseline made with --save-stats on\n"
      "in-distribution data, or else the model's running statistics (which include\n"
      "training-time augmentation, so the rule is stricter). The distance is the mean\n"
      "over channels of the symmetric KL divergence between the two Gaussians, the same\n"
      "scale for every layer; sampling alone gives about 2 (1/n + 1/n_baseline).\n\n"
      "Verdict (printed first, \"verdict\" in --json):\n"
      "  too-few-samples  fewer than --min-samples samples\n"
      "  drifted          some layer's distance > --threshold x noise and > --min-effect\n"
      "  in-distribution  otherwise\n\n"
      "Examples:\n"
      "  bnfold drift model.onnx --data factory1_heldout/ --save-stats base.json\n"
      "  bnfold drift model.onnx --data camera2/ --baseline base.json --fail-on-drift\n"
      "  bnfold drift model.onnx --data shard1/ --save-stats s1.json\n"
      "  bnfold drift model.onnx --merge s1.json --merge s2.json --baseline base.json --html drift.html");
  on_run(drift, [da] { return run_drift(*da); });
}

}  // namespace bnfold::cli
