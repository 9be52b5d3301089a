// bnfold audit / drift / recalibrate: where BatchNormalization meets data.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "graph/atomic_file.hpp"
#include "graph/check.hpp"
#include "graph/onnx_io.hpp"
#include "analysis/workflows.hpp"
#include "runtime/tensor_tools.hpp"
#include "tools/commands.hpp"
#include "tools/inputs.hpp"
#include "tools/report_html.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

namespace {

struct DataArgs {
  std::string model;
  std::vector<std::string> data;
  std::string size, mean, std_ = "1,1,1", order = "rgb";
  int64_t batch = 32;
  int threads = 0;
  bool json = false;
  std::string html;
};

void add_data_options(CLI::App* cmd, DataArgs& a, bool data_required) {
  cmd->add_option("MODEL", a.model, "ONNX model")->required();
  auto* d = cmd->add_option("-d,--data", a.data,
                            "Data: a folder (searched recursively) or files: .npy (a sample or a batch), .npz, "
                            "ONNX .pb, PNG/JPEG images; repeatable");
  if (data_required) d->required();
  cmd->add_option("--size", a.size, "Images: resize to HxW (default: the model's input size)");
  cmd->add_option("--mean", a.mean, "Images: per-channel mean after scaling to [0,1], e.g. 0.485,0.456,0.406");
  cmd->add_option("--std", a.std_, "Images: per-channel std, e.g. 0.229,0.224,0.225")->capture_default_str();
  cmd->add_option("--channel-order", a.order, "Images: rgb or bgr, the model's channel order")->capture_default_str();
  in_range(cmd->add_option("-b,--batch", a.batch, "Batch size for passes over the data")->capture_default_str(), 1,
           1e6);
  add_threads_option(cmd, a.threads);
  cmd->add_flag("--json", a.json, "Print JSON instead of text");
  cmd->add_option("--html", a.html, "Also write a self-contained HTML report with charts here");
}

// A progress bar on a terminal, plain lines (every 25%) otherwise; on stderr.
Progress progress_bar(const std::string& what) {
  const bool tty = isatty(2);
  auto last = std::make_shared<int>(-1);
  return [what, tty, last](int64_t done, int64_t total) {
    const int pct = total > 0 ? static_cast<int>(100 * done / total) : 100;
    if (tty) {
      const int filled = pct * 30 / 100;
      fmt::print(stderr, "\r{} [{}{}] {:3}% ({}/{})", what, std::string(static_cast<size_t>(filled), '#'),
                 std::string(static_cast<size_t>(30 - filled), '.'), pct, done, total);
      if (done >= total) fmt::print(stderr, "\n");
    } else if (pct / 25 != *last / 25 || done >= total) {
      if (pct != *last) fmt::print(stderr, "{}: {}% ({}/{})\n", what, pct, done, total);
    }
    *last = pct;
  };
}

Dataset load_data(const DataArgs& a, const Graph& g) {
  ImageOptions images;
  if (!a.size.empty()) images.size = parse_size(a.size, "--size");
  if (!a.mean.empty()) images.mean = parse_float_list(a.mean, "--mean");
  images.std = parse_float_list(a.std_, "--std");
  BNFOLD_CHECK(a.order == "rgb" || a.order == "bgr", ErrorCode::InvalidArgument, "--channel-order: rgb or bgr");
  images.bgr = a.order == "bgr";
  DataOptions o = data_options_for(g, a.model, images);
  o.progress = progress_bar("reading data");
  Dataset d = Dataset::open(a.data, o);
  fmt::print(stderr, "{}\n", d.description);
  return d;
}

// ---------------------------------------------------------------- drift

struct DriftArgs : DataArgs {
  std::string save_stats;
  std::vector<std::string> merge;
  double fail_above = -1;
};

void print_drift(const DriftReport& r) {
  std::vector<LayerDrift> ranked = r.layers;
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.score > y.score; });
  fmt::print("Drift of the data from the model's running statistics ({} samples)\n", r.samples);
  fmt::print("  {:<30} {:>9} {:>10} {:>10} {:>9}\n", "BN (most drifted first)", "score", ">3 sigma", "mean/sigma",
             "var ratio");
  for (const auto& l : ranked)
    fmt::print("  {:<30} {:>9.4g} {:>9.1f}% {:>10.3g} {:>9.3g}\n", fit_left(l.bn, 30), l.score, 100 * l.shifted_share,
               l.mean_shift_sigma, l.var_ratio);
  fmt::print("  score: mean over channels of the symmetric KL divergence between the data's\n"
             "  and the running Gaussian; >3 sigma: channels whose mean moved more than 3\n"
             "  running standard deviations.\n");
  fmt::print("Max score {:.4g}, mean score {:.4g}\n", r.max_score, r.mean_score);
}

// Output paths are checked before any work (a missing folder must not cost a pass over the data).
void check_outputs(const DataArgs& a, const std::vector<std::string>& more) {
  if (!a.html.empty()) check_writable(a.html);
  for (const auto& p : more)
    if (!p.empty()) check_writable(p);
}

int run_drift(const DriftArgs& a) {
  check_outputs(a, {a.save_stats});
  auto g = load_for_bn_analysis(a.model);
  BnInputStats stats;
  if (!a.merge.empty()) {
    for (const auto& f : a.merge) stats.merge(BnInputStats::load(f));
    fmt::print(stderr, "merged {} statistics files ({} samples)\n", a.merge.size(), stats.samples);
  }
  if (!a.data.empty()) {
    const Dataset d = load_data(a, *g);
    stats.merge(collect_bn_input_stats(g, d, a.batch, a.threads, progress_bar("collecting statistics")));
  }
  BNFOLD_CHECK(stats.samples > 0, ErrorCode::InvalidArgument, "give --data, or --merge statistics files");
  stats.model = a.model;
  if (!a.save_stats.empty()) {
    stats.save(a.save_stats);
    fmt::print(stderr, "statistics saved to {}\n", a.save_stats);
  }
  const DriftReport r = compute_drift(*g, stats);
  if (a.json) std::cout << drift_json(r) << "\n";
  else print_drift(r);
  if (!a.html.empty()) {
    std::vector<std::string> labels;
    Series score{"drift score", {}}, share{"share of channels beyond 3 sigma", {}};
    for (const auto& l : r.layers) {
      labels.push_back(l.bn);
      score.values.push_back(l.score);
      share.values.push_back(l.shifted_share);
    }
    std::vector<std::vector<std::string>> rows = {{"BN", "score", ">3 sigma", "mean shift / sigma", "var ratio"}};
    for (const auto& l : r.layers)
      rows.push_back({l.bn, fmt::format("{:.4g}", l.score), fmt::format("{:.1f}%", 100 * l.shifted_share),
                      fmt::format("{:.3g}", l.mean_shift_sigma), fmt::format("{:.3g}", l.var_ratio)});
    write_html(a.html, "bnfold drift: " + a.model,
               {fmt::format("{} samples; max drift score {:.4g}, mean {:.4g}.", r.samples, r.max_score, r.mean_score)},
               {{"Drift per layer", svg_bars("Drift score per BatchNormalization layer", labels, {score}, "score") +
                                        svg_bars("Channels whose mean moved > 3 sigma", labels, {share}, "share")},
                {"Table", html_table(rows)}});
    fmt::print(stderr, "HTML report written to {}\n", a.html);
  }
  if (a.fail_above >= 0 && r.max_score > a.fail_above) {
    fmt::print(stderr, "bnfold: drift {:.4g} is above --fail-above {:g}\n", r.max_score, a.fail_above);
    return 3;
  }
  return 0;
}

// ---------------------------------------------------------------- recalibrate

struct RecalArgs : DataArgs {
  std::string out, mode = "sequential";
  bool fold = false;
};

int run_recalibrate(const RecalArgs& a) {
  check_outputs(a, {a.out});
  RecalibrateOptions o;
  o.mode = parse_recalibration_mode(a.mode);
  o.batch = a.batch;
  o.threads = a.threads;
  o.fold = a.fold;
  o.progress = progress_bar("recalibrating");
  BNFOLD_CHECK(std::filesystem::absolute(a.out) != std::filesystem::absolute(a.model) && !same_file(a.out, a.model),
               ErrorCode::InvalidArgument, "-o {} would overwrite the input model", a.out);
  auto g = load_for_bn_analysis(a.model);
  const Dataset d = load_data(a, *g);
  const RecalibrateResult res = recalibrate_model(g, d, o);
  save_onnx(*res.model, a.out);  // temporary file, then rename: nothing half-written at -o
  const RecalibrationReport& r = res.report;
  const DriftReport& before = res.drift_before;
  const DriftReport& after = res.drift_after;
  if (a.json) {
    nlohmann::json j = nlohmann::json::parse(recalibrate_json(res));
    j["output"] = a.out;
    std::cout << j.dump(2) << "\n";
  } else {
    fmt::print("Recalibrated {} BatchNormalization layers on {} samples, mode {} ({} pass{} over the data)\n",
               r.layers.size(), r.samples, recalibration_mode_name(r.mode), r.passes, r.passes == 1 ? "" : "es");
    fmt::print("  {:<34} {:>12} {:>10} {:>10} {:>9}\n", "BN", "mean moved", "var ratio", "drift", "after");
    for (size_t i = 0; i < r.layers.size(); ++i) {
      double b = 0, f = 0;
      for (const auto& l : before.layers) if (l.bn == r.layers[i].bn) b = l.score;
      for (const auto& l : after.layers) if (l.bn == r.layers[i].bn) f = l.score;
      fmt::print("  {:<34} {:>9.3g} sd {:>10.3g} {:>10.4g} {:>9.3g}\n", fit_left(r.layers[i].bn, 34),
                 r.layers[i].mean_shift_sigma, r.layers[i].var_ratio, b, f);
    }
    fmt::print("Drift on this data: max {:.4g} before, {:.4g} after; mean {:.4g} before, {:.4g} after\n",
               before.max_score, after.max_score, before.mean_score, after.mean_score);
    const std::string folded =
        res.fold ? fmt::format(" ({} of {} BN folded)", res.fold->folded(), res.fold->rows().size()) : "";
    fmt::print("Wrote {}{}\n", a.out, folded);
  }
  if (!a.html.empty()) {
    std::vector<std::string> labels;
    Series b{"drift before", {}}, f{"drift after", {}};
    for (size_t i = 0; i < before.layers.size() && i < after.layers.size(); ++i) {
      labels.push_back(before.layers[i].bn);
      b.values.push_back(before.layers[i].score);
      f.values.push_back(after.layers[i].score);
    }
    write_html(a.html, "bnfold recalibrate: " + a.model,
               {fmt::format("Mode {} on {} samples; wrote {}.", recalibration_mode_name(r.mode), r.samples, a.out)},
               {{"Drift before and after recalibration",
                 svg_bars("Drift score per layer, before and after", labels, {b, f}, "score")}});
  }
  return 0;
}

// ---------------------------------------------------------------- audit

struct AuditArgs : DataArgs {
  bool random = false;
  int64_t samples = 32;
  std::string batch_sizes = "1,2,4,8,32";
  double tolerance = 0.05;
  uint64_t seed = 0;
};

int run_audit(const AuditArgs& a) {
  check_outputs(a, {});
  auto g = load_for_bn_analysis(a.model);
  BNFOLD_CHECK(a.random != !a.data.empty(), ErrorCode::InvalidArgument, "give --data PATH or --random");
  AuditOptions o;
  o.batch_sizes = parse_int_list(a.batch_sizes, "--batch-sizes");
  o.tolerance = a.tolerance;
  o.threads = a.threads;
  o.progress = progress_bar("auditing");
  Dataset d = a.random ? Dataset() : load_data(a, *g);
  if (a.random) {
    Session probe(g);
    const int64_t n = std::max(a.samples, *std::max_element(o.batch_sizes.begin(), o.batch_sizes.end()));
    d = Dataset::from_tensor(random_inputs(probe, n, a.seed).begin()->second);
  }
  const AuditReport r = audit(g, d, o);
  if (a.json) {
    std::cout << audit_json(r) << "\n";
  } else {
    fmt::print("Train (batch statistics) vs inference (running statistics), {} samples\n", r.samples);
    fmt::print("  {:>5} {:<18} {:>10} {:>9} {:>8} {:>8} {:>10}\n", "batch", "output", "max abs", "rel L2", "cosine",
               "top-1", "invariance");
    for (const auto& x : r.divergence) {
      double iv = 0;
      for (const auto& [b, v] : r.invariance) if (b == x.batch) iv = v;
      fmt::print("  {:>5} {:<18} {:>10.3g} {:>9.3g} {:>8.4f} {:>8} {:>10.2g}\n", x.batch, fit(x.output, 18), x.max_abs,
                 x.rel_l2, x.cosine, x.argmax_agreement >= 0 ? fmt::format("{:.0f}%", 100 * x.argmax_agreement) : "-",
                 iv);
    }
    fmt::print("  (invariance: inference-mode output of a sample in the batch vs alone)\n\n");
    fmt::print("Batch vs running statistics per layer, at batch {}:\n", r.batch_sizes.back());
    fmt::print("  {:<40} {:>14} {:>10}\n", "BN", "mean shift (sd)", "var ratio");
    for (const auto& l : r.layers)
      fmt::print("  {:<40} {:>14.3g} {:>10.3g}\n", fit_left(l.bn, 40), l.mean_shift_sigma, l.var_ratio);
    if (!r.degenerate_at_batch_1.empty()) {
      fmt::print("\nDegenerate at batch 1 (one value per channel: the output is beta):\n");
      for (const auto& bn : r.degenerate_at_batch_1) fmt::print("  {}\n", bn);
    }
    fmt::print("\nVerdict:\n");
    for (const auto& v : r.verdict) fmt::print("  - {}\n", v);
  }
  if (!a.html.empty()) {
    std::vector<double> xs;
    std::map<std::string, Series> per_output;
    for (const auto& x : r.divergence) {
      if (std::find(xs.begin(), xs.end(), static_cast<double>(x.batch)) == xs.end())
        xs.push_back(static_cast<double>(x.batch));
      per_output[x.output].name = x.output;
      per_output[x.output].values.push_back(x.rel_l2);
    }
    std::vector<Series> lines;
    for (auto& [k, s] : per_output) lines.push_back(s);
    std::vector<std::string> labels;
    Series shift{"mean shift (running sd)", {}}, ratio{"variance ratio", {}};
    for (const auto& l : r.layers) {
      labels.push_back(l.bn);
      shift.values.push_back(l.mean_shift_sigma);
      ratio.values.push_back(l.var_ratio);
    }
    write_html(a.html, "bnfold audit: " + a.model, r.verdict,
               {{"Output divergence against batch size",
                 svg_lines("Train vs inference: relative L2 of outputs", xs, lines, "batch size", "relative L2")},
                {"Batch vs running statistics", svg_bars("Per layer, at the largest batch", labels, {shift, ratio}, "")}});
  }
  return 0;
}

}  // namespace

void add_bn_commands(CLI::App& app) {
  auto da = std::make_shared<DriftArgs>();
  CLI::App* drift = app.add_subcommand("drift", "Compare the statistics of data with those the model's BNs learned.");
  add_data_options(drift, *da, false);
  drift->add_option("--save-stats", da->save_stats, "Save the accumulated statistics (to merge shards later)");
  drift->add_option("--merge", da->merge, "Statistics files (from --save-stats) to merge; repeatable");
  in_range(drift->add_option("--fail-above", da->fail_above,
                             "Exit with code 3 when the largest layer score is above this"),
           0, kNoLimit);
  drift->footer(
      "Runs the data in inference mode and accumulates every BN input's per-channel\n"
      "mean and variance (Welford/Chan: shards saved with --save-stats merge exactly).\n"
      "Per layer: the drift score (mean over channels of the symmetric KL divergence\n"
      "between the data's Gaussian and the running one) and the share of channels\n"
      "whose mean moved more than 3 running standard deviations, ranked.\n\n"
      "Examples:\n"
      "  bnfold drift model.onnx --data camera2/ --fail-above 0.5\n"
      "  bnfold drift model.onnx --data shard1/ --save-stats s1.json\n"
      "  bnfold drift model.onnx --merge s1.json --merge s2.json --html drift.html");
  on_run(drift, [da] { return run_drift(*da); });

  auto ra = std::make_shared<RecalArgs>();
  CLI::App* recal = app.add_subcommand("recalibrate", "Re-estimate BN running statistics on new data (AdaBN).");
  add_data_options(recal, *ra, true);
  recal->add_option("-o,--output", ra->out, "Where to write the recalibrated model")->required();
  recal->add_option("--mode", ra->mode,
                    "sequential: each BN gets the exact statistics of its input in inference mode with earlier BNs "
                    "already recalibrated; update-bn: PyTorch's update_bn (train-mode pass, average of batch "
                    "statistics)")
      ->capture_default_str();
  recal->add_flag("--fold", ra->fold, "Fold the recalibrated BNs into the neighbouring layers");
  recal->footer(
      "Writes a new model with the same interface; the report gives each layer's\n"
      "statistics change and the drift on the data before and after.\n\n"
      "Example:\n"
      "  bnfold recalibrate model.onnx --data factory2/ -o model_factory2.onnx --fold");
  on_run(recal, [ra] { return run_recalibrate(*ra); });

  auto aa = std::make_shared<AuditArgs>();
  CLI::App* aud = app.add_subcommand("audit", "Show how a model's outputs differ in train and inference mode.");
  add_data_options(aud, *aa, false);
  aud->add_flag("--random", aa->random, "Use random N(0,1) inputs instead of --data");
  in_range(aud->add_option("--samples", aa->samples, "How many random samples")->capture_default_str(), 1, 1e7);
  aud->add_option("--batch-sizes", aa->batch_sizes, "Batch sizes to compare at")->capture_default_str();
  in_range(aud->add_option("--tolerance", aa->tolerance, "Relative L2 under which the modes agree")
               ->capture_default_str(),
           0, kNoLimit);
  aud->add_option("--seed", aa->seed, "Seed of --random");
  aud->footer(
      "For each batch size, runs the same samples with running statistics (inference)\n"
      "and with batch statistics (a model served in train mode) and reports per output\n"
      "max abs difference, relative L2, cosine and top-1 agreement; per BN layer how\n"
      "far batch statistics are from running ones; BNs that see one value per channel\n"
      "at batch 1; batch invariance in inference mode; and fold fidelity. Ends with a\n"
      "verdict in plain words.\n\n"
      "Example:\n"
      "  bnfold audit model.onnx --data samples/ --batch-sizes 1,2,4,8,32 --html audit.html");
  on_run(aud, [aa] { return run_audit(*aa); });
}

}  // namespace bnfold::cli
