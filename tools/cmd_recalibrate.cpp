// bnfold recalibrate: re-estimate BN statistics on new data (AdaBN), guarded
// by the model's accuracy on held-out original data before and after.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "bnfold/analysis/html.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "bnfold/graph/atomic_file.hpp"
#include "tools/arg_check.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/graph/sha256.hpp"
#include "bnfold/analysis/bn_moments.hpp"
#include "tools/commands.hpp"
#include "tools/data_cli.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

namespace {

struct RecalArgs : DataArgs {
  std::string out, mode = "sequential", eval_labels;
  std::vector<std::string> eval_data, stats;
  double max_eval_drop = 1.0;  // points
  bool fold = false, unbiased_var = false, force = false;
  double prior = 0;  // pseudo-samples
};

std::string metric_value(const Evaluation& e, double v) {
  return e.metric == EvaluationMetric::RelL2 ? fmt::format("{:.3g}", v) : fmt::format("{:.1f}%", 100 * v);
}

std::string evaluation_line(const Evaluation& e) {
  const std::string what = e.metric == EvaluationMetric::Accuracy    ? "accuracy"
                           : e.metric == EvaluationMetric::Agreement ? "top-1 agreement with the original model"
                                                                     : "relative L2 change of the outputs";
  return fmt::format("{} ({} samples): {} {} before, {} after", e.data, e.samples, what, metric_value(e, e.before),
                     metric_value(e, e.after));
}

void write_recalibrate_html(const RecalArgs& a, const RecalibrateResult& res) {
  const RecalibrationReport& r = res.report;
  std::vector<std::string> labels;
  Series b{"drift before", {}}, f{"drift after", {}};
  std::vector<std::vector<std::string>> rows = {{"BN", "mean moved (old sd)", "var ratio", "drift before", "drift after"}};
  for (size_t i = 0; i < res.drift_before.layers.size() && i < res.drift_after.layers.size(); ++i) {
    const LayerDrift& x = res.drift_before.layers[i];
    labels.push_back(x.bn);
    b.values.push_back(x.score);
    f.values.push_back(res.drift_after.layers[i].score);
    std::string moved, ratio;
    for (const auto& l : r.layers)
      if (l.bn == x.bn) {
        moved = fmt::format("{:.3g}", l.mean_shift_sigma);
        ratio = fmt::format("{:.3g}", l.var_ratio);
      }
    rows.push_back({x.bn, moved, ratio, fmt::format("{:.4g}", x.score), fmt::format("{:.3g}", res.drift_after.layers[i].score)});
  }
  // The summary: what was written, and why not.
  std::vector<std::string> paragraphs = {
      res.output.empty() ? "Nothing written: the guard tripped (the eval data lost more than --max-eval-drop; "
                           "--force writes the model anyway)."
                         : "Recalibrated model written to " + res.output + "."};
  std::vector<std::pair<std::string, std::string>> sections;
  std::vector<std::vector<std::string>> guard = {{"data", "metric", "samples", "before", "after"}};
  std::vector<std::string> guard_labels;
  Series gb{"before", {}}, ga{"after", {}};
  for (const auto* e : {&res.calibration, &res.eval}) {
    if (!*e) continue;
    paragraphs.push_back(evaluation_line(**e));
    guard.push_back({(*e)->data, to_string((*e)->metric), std::to_string((*e)->samples), metric_value(**e, (*e)->before),
                     metric_value(**e, (*e)->after)});
    if ((*e)->metric != EvaluationMetric::RelL2) {
      guard_labels.push_back((*e)->data + " (" + to_string((*e)->metric) + ")");
      gb.values.push_back((*e)->before);
      ga.values.push_back((*e)->after);
    }
  }
  for (const auto& w : res.warnings) paragraphs.push_back("Warning: " + w);
  paragraphs.push_back(fmt::format("Statistics re-estimated in mode {} on {} samples ({} variance).",
                                   recalibration_mode_name(r.mode), r.samples,
                                   r.unbiased_var ? "unbiased" : "population"));
  if (guard.size() > 1) {
    std::string charts;
    if (!guard_labels.empty())
      charts = svg_bars("Before and after recalibration", guard_labels, {gb, ga},
                        ChartOptions{"", "share of samples", false, 1, {}, true, true});
    sections.push_back({"The guard: the model before and after", charts + html_table(guard)});
  }
  sections.push_back({"Drift on the calibration data, before and after",
                      svg_bars("Drift score per layer (symmetric KL from the running statistics)", labels, {b, f},
                               ChartOptions{"", "drift score", true, 0, {}}) +
                          html_table(rows)});
  write_html(a.html, "bnfold recalibrate: " + a.model, paragraphs, sections);
  fmt::print(stderr, "HTML report written to {}\n", a.html);
}

int run_recalibrate(const RecalArgs& a) {
  std::vector<NamedPath> inputs = {{"--eval-labels", a.eval_labels}};
  for (const auto& p : a.eval_data) inputs.push_back({"--eval-data", p});
  for (const auto& p : a.stats) inputs.push_back({"--stats", p});
  check_outputs(a, {{"-o", a.out}}, inputs);
  BNFOLD_ARG_CHECK(a.eval_labels.empty() || !a.eval_data.empty(), ErrorCode::InvalidArgument,
               "--eval-labels needs --eval-data");
  BNFOLD_ARG_CHECK(!a.data.empty() || !a.stats.empty(), ErrorCode::InvalidArgument,
               "give --data (a pass over the data) or --stats (statistics collected before)");
  BNFOLD_ARG_CHECK(a.data.empty() || a.stats.empty(), ErrorCode::InvalidArgument,
               "give --data (a pass over the data) or --stats (statistics collected before), not both");
  BNFOLD_ARG_CHECK(a.stats.empty() || (a.labels.empty() && a.mode == "sequential"), ErrorCode::InvalidArgument,
               "--stats takes no --labels or --mode: the statistics are used as they are");
  const AnalysisModel model = AnalysisModel::load(a.model);
  BnInputStats merged;
  for (const auto& f : a.stats) merged.merge(BnInputStats::load(f));
  const Dataset d = a.stats.empty() ? load_data(a, model.graph()) : Dataset();
  std::optional<Dataset> eval;
  if (!a.eval_data.empty()) eval = load_data(a, model.graph(), &a.eval_data, &a.eval_labels);
  RecalibrateOptions o;
  o.mode = parse_recalibration_mode(a.mode);
  o.batch = a.batch;
  o.threads = a.threads;
  o.fold = a.fold;
  o.unbiased_var = a.unbiased_var;
  o.prior = a.prior;
  o.eval = eval ? &*eval : nullptr;
  o.max_eval_drop = a.max_eval_drop / 100;
  o.source_sha256 = sha256_file(a.model);
  std::string where;
  for (const auto& p : a.stats.empty() ? a.data : a.stats) where += (where.empty() ? "" : ", ") + p;
  o.data_description =
      where + ": " + (a.stats.empty() ? d.description : fmt::format("statistics of {} samples", merged.samples));
  o.progress = progress_bar("recalibrating");
  RecalibrateResult res = a.stats.empty() ? recalibrate_model(model, d, o) : recalibrate_model(model, merged, o);
  const bool write = write_recalibrated(res, a.out, a.force);
  for (const auto& w : res.warnings) fmt::print(stderr, "warning: {}\n", w);
  const RecalibrationReport& r = res.report;
  const DriftReport& before = res.drift_before;
  const DriftReport& after = res.drift_after;
  if (a.json) {
    std::cout << recalibrate_json(res) << "\n";
  } else {
    fmt::print("Recalibrated {} BatchNormalization layers on {} samples, mode {} ({} pass{} over the data), {} "
               "variance stored\n",
               r.layers.size(), r.samples, recalibration_mode_name(r.mode), r.passes, r.passes == 1 ? "" : "es",
               r.unbiased_var ? "unbiased (n-1)" : "population (n)");
    if (r.prior > 0)
      fmt::print("  mixed with the model's statistics as {:g} pseudo-samples against the data's {} "
                 "(the data's weight: {:.0f}%)\n",
                 r.prior, r.samples, 100.0 * static_cast<double>(r.samples) / (static_cast<double>(r.samples) + r.prior));
    for (const auto* e : {&res.calibration, &res.eval})
      if (*e) fmt::print("  {}\n", evaluation_line(**e));
    if (!res.eval) fmt::print("  (no --eval-data: nothing checks what this does to the original data)\n");
    std::vector<std::string> names;
    for (const auto& l : r.layers) names.push_back(l.bn);
    const std::string suffix = strip_shared_suffix(names);
    const size_t w = column_width(names, 2 + 13 + 11 + 11 + 10, 10);
    names = fit_names(names, w);
    fmt::print("  {:<{}} {:>12} {:>10} {:>10} {:>9}\n", "BN", w, "mean moved", "var ratio", "drift", "after");
    for (size_t i = 0; i < r.layers.size(); ++i) {
      double b = 0, f = 0;
      for (const auto& l : before.layers) if (l.bn == r.layers[i].bn) b = l.score;
      for (const auto& l : after.layers) if (l.bn == r.layers[i].bn) f = l.score;
      fmt::print("  {:<{}} {:>9.3g} sd {:>10.3g} {:>10.4g} {:>9.3g}\n", names[i], w,
                 r.layers[i].mean_shift_sigma, r.layers[i].var_ratio, b, f);
    }
    if (!suffix.empty()) fmt::print("  (every BN name ends in {})\n", suffix);
    fmt::print("Drift on this data: max {:.4g} before, {:.4g} after; mean {:.4g} before, {:.4g} after\n",
               before.max_score, after.max_score, before.mean_score, after.mean_score);
    const std::string folded =
        res.fold ? fmt::format(" ({} of {} BN folded)", res.fold->folded(), res.fold->rows().size()) : "";
    if (write) fmt::print("Wrote {}{}\n", a.out, folded);
    else fmt::print("Nothing written: the guard tripped (--force writes {} anyway)\n", a.out);
  }
  if (!a.html.empty()) write_recalibrate_html(a, res);
  return write ? 0 : 3;
}

}  // namespace

void add_recalibrate(CLI::App& app) {
  auto ra = std::make_shared<RecalArgs>();
  CLI::App* recal = app.add_subcommand("recalibrate", "Re-estimate BN running statistics on new data (AdaBN), guarded.");
  add_data_options(recal, *ra, false);
  recal->add_option("--stats", ra->stats,
                    "Statistics files (drift --save-stats, a monitoring Session) to use instead of a pass over "
                    "--data; several are merged first: recalibrate on millions of samples collected in shards");
  recal->add_option("-o,--output", ra->out, "Where to write the recalibrated model")->required();
  recal->add_option("--mode", ra->mode,
                    "sequential: each BN gets the exact statistics of its input in inference mode with earlier BNs "
                    "already recalibrated; update-bn: PyTorch's update_bn (train-mode pass, average of batch "
                    "statistics)")
      ->capture_default_str();
  recal->add_option("--eval-data", ra->eval_data,
                    "Held-out data of the original distribution: the model's accuracy (with --eval-labels) or "
                    "agreement with the original model (without) is measured before and after; repeatable");
  recal->add_option("--eval-labels", ra->eval_labels, "Labels of --eval-data (as --labels)");
  in_range(recal->add_option("--max-eval-drop", ra->max_eval_drop,
                             "The guard: when the eval accuracy (or agreement) falls by more than this many points, "
                             "write nothing and exit 3 (see --force)")
               ->capture_default_str(),
           0, 100);
  recal->add_flag("--unbiased-var", ra->unbiased_var,
                  "Store the unbiased variance (n-1), PyTorch's running_var convention. Default in sequential mode: "
                  "the population variance, which normalizes the data exactly; update-bn always stores unbiased");
  in_range(recal->add_option("--prior", ra->prior,
                             "Keep the model's statistics as N pseudo-samples beside the data's n: mean = (N mean_model "
                             "+ n mean_data) / (N + n), variance the mixture's. For few samples (with --limit K); "
                             "0 replaces them")
               ->capture_default_str(),
           0, 1e15);
  recal->add_flag("--fold", ra->fold, "Fold the recalibrated BNs into the neighbouring layers");
  recal->add_flag("--force", ra->force,
                  "Write -o even when the guard trips (--eval-data's accuracy fell by more than --max-eval-drop); "
                  "the warning stays, and the exit code is 0");
  recal->footer(
      "Writes the source model with new running statistics under their original\n"
      "initializer names (so they map back to the training code's state_dict), no\n"
      "stale tensors, producer bnfold, and metadata_props recording how it was made:\n"
      "bnfold.recalibrated_from_sha256, bnfold.recalibration_data, _samples, _mode,\n"
      "bnfold.variance, bnfold.recalibration_prior (with --prior),\n"
      "bnfold.recalibration_date, bnfold.version.\n"
      "With --labels, accuracy on the calibration data before and after; with\n"
      "--eval-data, the same on held-out original data; when it falls by more than\n"
      "--max-eval-drop points the guard trips: nothing is written (unless --force)\n"
      "and the exit code is 3.\n\n"
      "With --stats, each BN gets the moments its input had in the statistics (one\n"
      "inference pass of the original model: exact for BNs with no BN upstream; the\n"
      "sequential mode re-measures each level with the earlier ones updated).\n\n"
      "With few samples of a site, --prior N mixes instead of replacing, so that a\n"
      "handful of samples moves the statistics only part of the way (Schneider et\n"
      "al. 2020); --limit K takes the first K samples.\n\n"
      "Examples:\n"
      "  bnfold recalibrate model.onnx --stats shard1.json --stats shard2.json -o new.onnx\n"
      "  bnfold recalibrate model.onnx --data factory2/ --labels factory2_labels.npy \\\n"
      "      --eval-data factory1_heldout/ --eval-labels factory1_labels.npy -o model_factory2.onnx\n"
      "  bnfold recalibrate model.onnx --data factory2/ --limit 8 --prior 16 -o model_factory2.onnx");
  on_run(recal, [ra] { return run_recalibrate(*ra); });
}

}  // namespace bnfold::cli
