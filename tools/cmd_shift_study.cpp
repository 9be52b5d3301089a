// bnfold shift-study: before deployment, how fragile is the model to the
// shifts sites have, how much does recalibration recover, and would drift
// have warned?
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>

#include "bnfold/analysis/corruptions.hpp"
#include "bnfold/analysis/shift_study.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "tools/arg_check.hpp"
#include "tools/commands.hpp"
#include "tools/data_cli.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

namespace {

struct StudyArgs : DataArgs {
  std::string families, severities = "1,2,3,4,5", ks = "1,8,32,256", pixel_range, baseline;
  double prior = 16, max_drop = 5, threshold = 4, min_effect = -1;
  int64_t min_samples = 30;
  uint64_t seed = 0;
};

std::string as_percent(double v) { return fmt::format("{:.1f}", 100 * v); }

void print_study(const ShiftStudyReport& r) {
  for (const auto& s : r.summary) fmt::print("{}\n", s);
  const std::string m = r.metric == "accuracy" ? "acc%" : "agree%";
  fmt::print("\n{} per cell ({} samples; clean {}%). Drift against {}: distance of the layers past the noise "
             "threshold (0: none), n: samples drift needed to say 'drifted'.\n",
             r.metric, r.samples, as_percent(r.clean.accuracy), r.reference);
  std::string head = fmt::format("  {:<15} {:>3} {:>6} {:>6} {:>8} {:>6}", "family", "sev", m, "conf%", "distance", "n");
  for (const auto& v : r.variants) head += fmt::format(" {:>7}", fmt::format("k{}{}", v.k, v.prior > 0 ? "+N" : ""));
  fmt::print("{}\n", head);
  for (const auto& c : r.cells) {
    std::string line = fmt::format("  {:<15} {:>3} {:>6} {:>6} {:>8.3g} {:>6}", c.family, c.severity, as_percent(c.accuracy),
                                   as_percent(c.confidence), c.distance,
                                   c.samples_to_drift > 0 ? std::to_string(c.samples_to_drift) : "-");
    for (const auto& v : c.recalibrated) line += fmt::format(" {:>7}", as_percent(v.accuracy));
    fmt::print("{}{}\n", line, c.miss ? "  MISS" : c.false_alarm ? "  alarm" : "");
  }
  if (!r.variants.empty())
    fmt::print("  k8: {} after re-estimating the BN statistics on the cell's first 8 samples (replaced); k8+N: "
               "mixed with the model's as N={:g} pseudo-samples.\n",
               r.metric, r.variants.back().prior > 0 ? r.variants.back().prior : 0.0);
  fmt::print("\nPer family, mean error % over severities:\n  {:<15} {:>8}", "family", "shifted");
  for (const auto& v : r.variants) fmt::print(" {:>7}", fmt::format("k{}{}", v.k, v.prior > 0 ? "+N" : ""));
  fmt::print(" {:>6}\n", "misses");
  for (const auto& f : r.families) {
    fmt::print("  {:<15} {:>8}", f.family, as_percent(f.shifted_error));
    for (double e : f.recalibrated_error) fmt::print(" {:>7}", as_percent(e));
    fmt::print(" {:>6}\n", f.misses);
  }
  fmt::print("  {:<15} {:>8}", "all", as_percent(r.shifted_error));
  for (double e : r.recalibrated_error) fmt::print(" {:>7}", as_percent(e));
  fmt::print(" {:>6}\n", r.misses);
  for (const auto& n : r.notes) fmt::print("note: {}\n", n);
  fmt::print("{} forward passes of one sample in {:.1f} s; pixel space: {}.\n", r.forward_samples, r.seconds,
             r.pixel_space);
}

int run_study(const StudyArgs& a) {
  check_outputs(a, {}, {{"--baseline", a.baseline}});
  const AnalysisModel model = AnalysisModel::load(a.model);
  ShiftStudyOptions o;
  for (const auto& f : split_list(a.families)) o.families.push_back(f);
  o.severities.clear();
  for (int64_t s : parse_int_list(a.severities, "--severities")) {
    BNFOLD_ARG_CHECK(s >= 1 && s <= 5, ErrorCode::InvalidArgument, "--severities: severity {} is not one of 1-5", s);
    o.severities.push_back(static_cast<int>(s));
  }
  o.recalibration_samples = a.ks.empty() || a.ks == "none" ? std::vector<int64_t>{} : parse_int_list(a.ks, "--recalibrate-on");
  o.prior = a.prior;
  o.seed = a.seed;
  o.max_drop = a.max_drop / 100;
  if (!a.pixel_range.empty()) {
    for (float v : parse_float_list(a.pixel_range, "--pixel-range")) o.pixel_range.push_back(v);
  }
  BnInputStats baseline;
  if (!a.baseline.empty()) {
    baseline = BnInputStats::load(a.baseline);
    o.drift.baseline = &baseline;
  }
  o.drift.threshold = a.threshold;
  o.drift.min_effect = a.min_effect;
  o.drift.min_samples = a.min_samples;
  o.batch = a.batch;
  o.threads = a.threads;
  check_shift_study_options(o);  // before reading the data
  const Dataset d = load_data(a, model.graph());
  BNFOLD_ARG_CHECK(a.pixel_range.empty() || d.image_mean.empty(), ErrorCode::InvalidArgument,
                   "--pixel-range is for arrays; images are pixels in [0, 1] (normalized by --mean/--std)");
  o.progress = progress_bar("shift study");
  const ShiftStudyReport r = shift_study(model, d, o);
  if (a.json) std::cout << shift_study_json(r) << "\n";
  else print_study(r);
  if (!a.html.empty()) {
    write_shift_study_html(a.html, r);
    fmt::print(stderr, "HTML report written to {}\n", a.html);
  }
  return 0;
}

std::string families_help() {
  std::string s = "Corruption families (comma-separated; default all):";
  for (const auto& f : corruption_families()) s += fmt::format("\n  {:<15} {}; severity 1-5: {}", f.name, f.description, f.parameter);
  return s;
}

}  // namespace

void add_shift_study(CLI::App& app) {
  auto sa = std::make_shared<StudyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "shift-study", "Before deployment: accuracy under synthetic shifts, what recalibration recovers, drift's warnings");
  add_data_options(cmd, *sa, true);
  cmd->add_option("--families", sa->families, "Corruption families, comma-separated (default: all; see below)");
  cmd->add_option("--severities", sa->severities, "Severities, comma-separated, each 1-5")->capture_default_str();
  cmd->add_option("--recalibrate-on", sa->ks,
                  "Sample counts k to re-estimate the BN statistics on (the cell's first k samples); 'none': no "
                  "recalibration")
      ->capture_default_str();
  in_range(cmd->add_option("--prior", sa->prior,
                           "Also recalibrate mixing the model's statistics as N pseudo-samples (recalibrate --prior); "
                           "0: replacement only")
               ->capture_default_str(),
           0, 1e15);
  add_seed_option(cmd, sa->seed, "Seed of the corruptions' random draws (noise, motion angles)");
  cmd->add_option("--pixel-range", sa->pixel_range,
                  "Arrays: LO,HI, the values that are black and white (pixels 0 and 1). Default: the data's own range "
                  "(images need none: they are pixels in [0, 1], normalized by --mean/--std)");
  in_range(cmd->add_option("--max-drop", sa->max_drop,
                           "A cell that loses more than this many points of accuracy (agreement) without a 'drifted' "
                           "verdict is a miss")
               ->capture_default_str(),
           0.01, 99);
  cmd->add_option("--baseline", sa->baseline,
                  "Statistics of in-distribution data (drift --save-stats) to judge drift against; default: the "
                  "clean data's own");
  in_range(cmd->add_option("--threshold", sa->threshold, "Drift: as drift --threshold")->capture_default_str(), 0,
           kNoLimit);
  in_range(cmd->add_option("--min-effect", sa->min_effect, "Drift: as drift --min-effect (default 0.25)"),
           0, kNoLimit);
  in_range(cmd->add_option("--min-samples", sa->min_samples,
                           "Drift: as drift --min-samples: below it no verdict, so 'n' is never smaller")
               ->capture_default_str(),
           1, 1e12);
  cmd->footer(families_help() +
              "\n\nEach cell (family x severity) corrupts every sample in pixel space (before --mean/--std),\n"
              "seeded per sample, and runs it once through the model and once through each\n"
              "recalibrated copy. Labels give accuracy; without them, agreement with the clean\n"
              "predictions. Drift is judged against the clean data's statistics (or --baseline)\n"
              "at 8, 16, 32, ... samples: 'n' is the first count that said 'drifted'. The summary\n"
              "says whether drift warned of every cell that lost more than --max-drop points,\n"
              "and which --min-effect separates harmless shifts from harmful ones for this model.\n\n"
              "  bnfold shift-study model.onnx --data val/ --labels subfolders --resize 256 \\\n"
              "      --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --html study.html");
  on_run(cmd, [sa] { return run_study(*sa); });
}

}  // namespace bnfold::cli
