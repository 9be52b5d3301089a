// bnfold audit: what happens at batch size one, and if the model is served
// in train mode? Accuracy with labels, per-layer statistics, the culprit.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>

#include "bnfold/analysis/html.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "tools/arg_check.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
#include "tools/commands.hpp"
#include "tools/data_cli.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

namespace {

struct AuditArgs : DataArgs {
  bool random = false;
  int64_t samples = 32, ablation_samples = 32;
  std::string batch_sizes = "1,2,4,8,32", precisions;
  double tolerance = 0.05;
  uint64_t seed = 0;
};

std::string share(double v) { return v >= 0 ? fmt::format("{:.1f}%", 100 * v) : "-"; }

// Each precision against float32 inference, as the modes above.
void print_precisions(const AuditReport& r) {
  if (r.precisions.empty()) return;
  fmt::print("\nReduced precision vs float32, inference mode, {} samples:\n", r.precisions.front().samples);
  fmt::print("  {:<10} {:<18} {:>10} {:>10} {:>8}", "precision", "output", "rel. RMS", "max abs", "top-1 =");
  if (r.labeled) fmt::print(" {:>10} {:>10}", "acc. fp32", "accuracy");
  fmt::print("\n");
  for (const auto& c : r.precisions)
    for (const auto& o : c.outputs) {
      fmt::print("  {:<10} {:<18} {:>10} {:>10.3g} {:>8}", c.precision, fit(o.name, 18), share(o.relative_rms),
                 o.max_abs, share(o.agreement));
      if (r.labeled && o.name == c.scores_output)
        fmt::print(" {:>10} {:>10}", share(c.accuracy_float32), share(c.accuracy_candidate));
      fmt::print("\n");
    }
  for (const auto& c : r.precisions)
    for (size_t i = 1; i < c.verdict.size(); ++i)
      if (c.verdict[i].rfind("Its top class", 0) != 0) fmt::print("  - {}\n", wrap(c.verdict[i], 76, "    "));
}

void print_audit(const AuditReport& r) {
  fmt::print("Verdict:\n");
  for (const auto& v : r.verdict) fmt::print("  - {}\n", v);
  fmt::print("\nTrain (batch statistics) vs inference (running statistics), {} samples{}\n", r.samples,
             r.labeled ? fmt::format("; accuracy in inference mode {}{}", share(r.accuracy_inference),
                                     r.top5_inference >= 0 ? ", top-5 " + share(r.top5_inference) : "")
                       : "");
  fmt::print("  {:>5} {:<18} {:>10} {:>9} {:>8} {:>8} {:>10}", "batch", "output", "max abs", "rel L2", "cosine",
             "top-1 =", "invariance");
  if (r.labeled) fmt::print(" {:>10} {:>10}", "acc. inf", "acc. train");
  fmt::print("\n");
  for (const auto& x : r.divergence) {
    double iv = 0;
    for (const auto& [b, v] : r.invariance) if (b == x.batch) iv = v;
    fmt::print("  {:>5} {:<18} {:>10.3g} {:>9.3g} {:>8.4f} {:>8} {:>10.2g}", x.batch, fit(x.output, 18), x.max_abs,
               x.rel_l2, x.cosine, share(x.argmax_agreement), iv);
    if (r.labeled && x.output == r.scores_output)
      for (const auto& a : r.accuracy)
        if (a.batch == x.batch) fmt::print(" {:>10} {:>10}", share(a.inference_top1), share(a.batch_stats_top1));
    fmt::print("\n");
  }
  fmt::print("  (top-1 =: share of samples whose top class is the same in both modes;\n"
             "   invariance: inference-mode output of a sample in the batch vs alone)\n");
  if (!r.ablation.empty()) {
    fmt::print("\nEach BN alone in train mode at batch {} ({} samples), the most harmful first{}:\n", r.ablation_batch,
               r.ablation_samples,
               r.labeled ? fmt::format(" (accuracy with every BN in inference mode: {})", share(r.ablation_accuracy_inference))
                         : "");
    std::vector<std::string> names;
    for (const auto& a : r.ablation) names.push_back(a.bn);
    const std::string suffix = strip_shared_suffix(names);
    const size_t w = column_width(names, 2 + 10 + 9 + 9 + 30, 10);  // the reason may wrap past the edge
    names = fit_names(names, w);
    fmt::print("  {:<{}} {:>9} {:>8} {:>8}  {}\n", "BN", w, "rel L2", "top-1 =", r.labeled ? "accuracy" : "", "why");
    for (size_t i = 0; i < r.ablation.size(); ++i) {
      const Ablation& a = r.ablation[i];
      fmt::print("  {:<{}} {:>9.3g} {:>8} {:>8}  {}\n", names[i], w, a.rel_l2, share(a.top1_agreement),
                 r.labeled ? share(a.accuracy) : "", a.why);
    }
    if (!suffix.empty()) fmt::print("  (every BN name ends in {})\n", suffix);
    fmt::print("  rule: {}\n", r.blame_rule);
  }
  fmt::print("\nBatch vs running statistics per layer (mean shift in running sd / variance ratio):\n");
  std::vector<std::string> order;
  for (const auto& l : r.layers)
    if (std::find(order.begin(), order.end(), l.bn) == order.end()) order.push_back(l.bn);
  std::vector<std::string> shown = order;
  const std::string suffix = strip_shared_suffix(shown);
  const size_t w = column_width(shown, 2 + 16 * r.batch_sizes.size(), 10);
  shown = fit_names(shown, w);
  fmt::print("  {:<{}}", "BN", w);
  for (int64_t b : r.batch_sizes) fmt::print(" {:>15}", fmt::format("batch {}", b));
  fmt::print("\n");
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string& bn = order[i];
    fmt::print("  {:<{}}", shown[i], w);
    for (int64_t b : r.batch_sizes) {
      std::string cell = "-";
      for (const auto& l : r.layers)
        if (l.bn == bn && l.batch == b) cell = fmt::format("{:.2g} / {:.2g}", l.mean_shift_sigma, l.var_ratio);
      fmt::print(" {:>15}", cell);
    }
    fmt::print("\n");
  }
  if (!suffix.empty()) fmt::print("  (every BN name ends in {})\n", suffix);
  print_precisions(r);
}

void write_audit_html(const AuditArgs& a, const AuditReport& r) {
  std::vector<double> xs;
  for (int64_t b : r.batch_sizes) xs.push_back(static_cast<double>(b));
  std::map<std::string, Series> per_output;
  for (const auto& x : r.divergence) {
    per_output[x.output].name = x.output;
    per_output[x.output].values.push_back(x.rel_l2);
  }
  std::vector<Series> lines;
  for (auto& [k, s] : per_output) lines.push_back(s);
  std::vector<std::pair<std::string, std::string>> sections;
  const ChartOptions rel{"batch size", "relative L2", false, 0, {{a.tolerance, fmt::format("tolerance {:g}", a.tolerance)}}};
  std::vector<std::vector<std::string>> div_rows = {{"batch", "output", "max abs", "rel L2", "cosine", "top-1 agreement"}};
  for (const auto& x : r.divergence)
    div_rows.push_back({std::to_string(x.batch), x.output, fmt::format("{:.3g}", x.max_abs), fmt::format("{:.3g}", x.rel_l2),
                        fmt::format("{:.4f}", x.cosine), share(x.argmax_agreement)});
  sections.push_back({"Output divergence against batch size",
                      svg_lines("Train vs inference: relative L2 of the outputs", xs, lines, rel) + html_table(div_rows)});
  if (!r.scores_output.empty()) {
    Series agree{"top-1 agreement", {}}, inf{"accuracy, inference", {}}, train{"accuracy, train mode", {}};
    std::vector<std::vector<std::string>> rows = {{"batch", "samples", "top-1 agreement"}};
    if (r.labeled) {
      rows[0].insert(rows[0].end(), {"accuracy inference", "accuracy train mode"});
      if (r.top5_inference >= 0) rows[0].insert(rows[0].end(), {"top-5 inference", "top-5 train mode"});
    }
    for (const auto& x : r.accuracy) {
      agree.values.push_back(x.top1_agreement);
      inf.values.push_back(x.inference_top1);
      train.values.push_back(x.batch_stats_top1);
      std::vector<std::string> row = {std::to_string(x.batch), std::to_string(x.samples), share(x.top1_agreement)};
      if (r.labeled) {
        row.insert(row.end(), {share(x.inference_top1), share(x.batch_stats_top1)});
        if (r.top5_inference >= 0) row.insert(row.end(), {share(x.inference_top5), share(x.batch_stats_top5)});
      }
      rows.push_back(row);
    }
    std::vector<Series> s = {agree};
    if (r.labeled) s = {inf, train, agree};
    sections.push_back({r.labeled ? "Accuracy against batch size" : "Top-1 agreement against batch size",
                        svg_lines(r.labeled ? "Accuracy in inference and in train mode" : "Top-1 agreement of the modes",
                                  xs, s, ChartOptions{"batch size", "share of samples", false, 1, {}, false, true}) +
                            html_table(rows)});
  }
  if (!r.ablation.empty()) {
    std::vector<std::string> labels;
    Series harm{"relative L2, this BN alone in train mode", {}};
    std::vector<std::vector<std::string>> rows = {{"BN", "rel L2", "top-1 agreement", "accuracy", "why"}};
    for (const auto& x : r.ablation) {
      labels.push_back(x.bn);
      harm.values.push_back(x.rel_l2);
      rows.push_back({x.bn, fmt::format("{:.3g}", x.rel_l2), share(x.top1_agreement), share(x.accuracy), x.why});
    }

    sections.push_back({fmt::format("The culprit: each BN alone in train mode at batch {}", r.ablation_batch),
                        svg_bars("Output change caused by each BN alone, most harmful first", labels, {harm},
                                 ChartOptions{"", "relative L2", true, 0,
                                              {{a.tolerance, fmt::format("tolerance {:g}", a.tolerance)}}}) +
                            html_table(rows) + "<p>Rule: " + html_escape(r.blame_rule) + "</p>"});
  }
  std::vector<std::vector<std::string>> rows = {{"BN", "batch", "values per channel", "mean shift (running sd)", "var ratio"}};
  for (const auto& l : r.layers)
    rows.push_back({l.bn, std::to_string(l.batch), std::to_string(l.values), fmt::format("{:.3g}", l.mean_shift_sigma),
                    fmt::format("{:.3g}", l.var_ratio)});
  std::string charts;
  for (int64_t b : {r.batch_sizes.front(), r.batch_sizes.back()}) {
    std::vector<std::string> labels;
    Series shift{"mean shift (running sd)", {}}, ratio{"variance ratio", {}};
    for (const auto& l : r.layers)
      if (l.batch == b) {
        labels.push_back(l.bn);
        shift.values.push_back(l.mean_shift_sigma);
        ratio.values.push_back(l.var_ratio);
      }
    charts += svg_bars(fmt::format("Batch vs running statistics per layer, batch {}", b), labels, {shift, ratio},
                       ChartOptions{"", "sd / ratio", true, 0, {{1, "ratio 1"}}});
    if (r.batch_sizes.size() == 1) break;
  }
  sections.push_back({"Batch vs running statistics, per batch size", charts + html_table(rows)});
  if (!r.precisions.empty()) {
    std::vector<std::vector<std::string>> prec = {
        {"precision", "output", "relative RMS vs float32", "max abs", "top-1 agreement", "accuracy float32", "accuracy"}};
    for (const auto& c : r.precisions)
      for (const auto& o : c.outputs)
        prec.push_back({c.precision, o.name, share(o.relative_rms), fmt::format("{:.3g}", o.max_abs), share(o.agreement),
                        o.name == c.scores_output ? share(c.accuracy_float32) : "-",
                        o.name == c.scores_output ? share(c.accuracy_candidate) : "-"});
    std::string notes;
    for (const auto& c : r.precisions)
      for (const auto& line : c.verdict) notes += "<p>" + html_escape(line) + "</p>";
    sections.push_back({"Reduced precision vs float32 (inference mode)", html_table(prec) + notes});
  }
  write_html(a.html, "bnfold audit: " + a.model, r.verdict, sections);
  fmt::print(stderr, "HTML report written to {}\n", a.html);
}

int run_audit(const AuditArgs& a) {
  check_outputs(a, {});
  const AnalysisModel model = AnalysisModel::load(a.model);
  BNFOLD_ARG_CHECK(a.random != !a.data.empty(), ErrorCode::InvalidArgument, "give --data PATH or --random");
  BNFOLD_ARG_CHECK(!a.random || a.labels.empty(), ErrorCode::InvalidArgument, "--labels needs --data, not --random");
  AuditOptions o;
  o.batch_sizes = parse_int_list(a.batch_sizes, "--batch-sizes");
  for (int64_t b : o.batch_sizes)
    BNFOLD_ARG_CHECK(b > 0, ErrorCode::InvalidArgument, "--batch-sizes: {} is not a batch size", b);
  o.tolerance = a.tolerance;
  o.threads = a.threads;
  o.ablation_samples = a.ablation_samples;
  if (!a.precisions.empty()) o.precisions = split_list(a.precisions);
  check_audit_precisions(o.precisions);  // before the data is read
  o.progress = progress_bar("auditing");
  Dataset d = a.random ? Dataset() : load_data(a, model.graph());
  if (a.random) {
    Session probe(model.shared());
    const int64_t n = std::max(a.samples, *std::max_element(o.batch_sizes.begin(), o.batch_sizes.end()));
    d = Dataset::from_tensor(random_inputs(probe, n, a.seed).begin()->second);
  }
  const AuditReport r = audit(model, d, o);
  if (a.json) std::cout << audit_json(r) << "\n";
  else print_audit(r);
  if (!a.html.empty()) write_audit_html(a, r);
  return 0;
}

}  // namespace

void add_audit(CLI::App& app) {
  auto aa = std::make_shared<AuditArgs>();
  CLI::App* aud = app.add_subcommand("audit", "What happens at batch size one, and if the model is served in train mode?");
  add_data_options(aud, *aa, false);
  aud->add_flag("--random", aa->random, "Use random N(0,1) inputs instead of --data");
  in_range(aud->add_option("--samples", aa->samples, "How many random samples")->capture_default_str(), 1, 1e7);
  aud->add_option("--batch-sizes", aa->batch_sizes, "Batch sizes to compare at")->capture_default_str();
  in_range(aud->add_option("--tolerance", aa->tolerance, "Relative L2 under which the modes agree")
               ->capture_default_str(),
           0, kNoLimit);
  in_range(aud->add_option("--ablation-samples", aa->ablation_samples,
                           "Samples for the ablation (each BN alone in train mode at the smallest batch size); 0: skip it")
               ->capture_default_str(),
           0, 1e7);
  add_seed_option(aud, aa->seed, "Seed of --random");
  aud->add_option("--precision", aa->precisions,
                  "Also compare these precisions with float32 inference on the same data, comma-separated: bf16 "
                  "(the model in bfloat16), int8 (an int8 QDQ model of it, ranges calibrated on the data)");
  aud->footer(
      "Starts with a verdict: is it safe to serve at the smallest batch size in\n"
      "inference mode, what happens in train mode (batch statistics), and which BN\n"
      "layers are to blame. Then, for each batch size, the same samples run with\n"
      "running statistics (inference) and with batch statistics: per output the max\n"
      "abs difference, relative L2, cosine and top-1 agreement; with --labels, top-1\n"
      "(and top-5 with >= 5 classes) accuracy in both modes. The ablation puts each BN\n"
      "alone in train mode and ranks them by what changes the answer: the accuracy left\n"
      "(--labels), else the top-1 agreement, else the output change. A BN is to blame\n"
      "when alone it changes the top class of more than 1% of samples (or, with labels,\n"
      "lowers accuracy by more than 1 point); for outputs that are not class scores,\n"
      "when it moves them past --tolerance. Per layer\n"
      "and batch size: how far batch statistics are from the running ones. Also batch\n"
      "invariance in inference mode and fold fidelity. With --precision, the model in\n"
      "bf16 and as int8 against float32 inference: relative RMS error, top-1\n"
      "agreement and, with labels, accuracy (a verdict line each: within 1 point).\n\n"
      "Examples:\n"
      "  bnfold audit model.onnx --data val/ --labels subfolders --resize 256 --center-crop 224 \\\n"
      "      --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --html audit.html\n"
      "  bnfold audit model.onnx --data data.npz --data-key x --label-key y --batch-sizes 1,2,8\n"
      "  bnfold audit model.onnx --data x.npy --labels y.npy --precision bf16,int8");
  on_run(aud, [aa] { return run_audit(*aa); });
}

}  // namespace bnfold::cli
