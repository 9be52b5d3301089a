// The drift report as HTML: `bnfold drift --html` writes it as a file, the
// server's live page (GET /) shows the same sections, refreshed.
#include "bnfold/analysis/bn_analysis.hpp"
#include "bnfold/analysis/html.hpp"

#include <fmt/format.h>

namespace bnfold {

namespace {
std::string pct(double v) { return fmt::format("{:.0f}%", 100 * v); }
}  // namespace

std::vector<std::string> drift_html_paragraphs(const DriftReport& r) {
  // The summary's first line states the verdict ("Drifted: 4 of 4 BN layers ...").
  if (r.summary.empty()) return {std::string("Verdict: ") + to_string(r.verdict)};
  return r.summary;
}

HtmlSections drift_html_sections(const DriftReport& r) {
  std::vector<std::string> labels;
  Series ratio{"distance / sampling noise", {}}, mean_share{"mean moved > 3 sd", {}},
      var_share{"variance out of [0.5x, 2x]", {}}, score{"score (vs running statistics)", {}},
      base{"baseline's score", {}};
  for (const auto& l : r.layers) {
    labels.push_back(l.bn);
    ratio.values.push_back(l.ratio);
    mean_share.values.push_back(l.shifted_share);
    var_share.values.push_back(l.var_shift_share);
    score.values.push_back(l.score);
    base.values.push_back(l.baseline_score);
  }
  std::vector<std::vector<std::string>> rows = {{"BN", "distance", "x noise", "drifted", "mean > 3 sd", "var out",
                                                 "mean shift / sd", "var ratio", "score", "baseline score"}};
  for (const auto& l : r.layers)
    rows.push_back({l.bn, fmt::format("{:.4g}", l.distance), fmt::format("{:.3g}", l.ratio), l.drifted ? "yes" : "",
                    pct(l.shifted_share), pct(l.var_shift_share), fmt::format("{:.3g}", l.mean_shift_sigma),
                    fmt::format("{:.3g}", l.var_ratio), fmt::format("{:.4g}", l.score),
                    l.baseline_score >= 0 ? fmt::format("{:.4g}", l.baseline_score) : ""});
  std::vector<Series> scores = {score};
  if (r.baseline_samples) scores.push_back(base);
  ChartOptions ro{"", "distance / sampling noise", true, 0, {{r.threshold, fmt::format("drifted above {:g}x", r.threshold)}}};
  ChartOptions so{"", "share of channels", false, 1, {}, false, true};
  ChartOptions sc{"", "symmetric KL", true, 0, {}};
  return {{"Drift per layer (against the " + r.reference + ")",
           svg_bars("Distance from the reference, in units of sampling noise", labels, {ratio}, ro) + html_table(rows)},
          {"Mean and variance shifts",
           svg_bars("Share of channels that moved: mean and variance", labels, {mean_share, var_share}, so)},
          {"Scores against the running statistics",
           svg_bars("Symmetric KL from the model's running statistics", labels, scores, sc)}};
}

}  // namespace bnfold
