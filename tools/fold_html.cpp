#include "tools/fold_html.hpp"

#include <fmt/format.h>

#include <cmath>

#include "bnfold/analysis/html.hpp"

namespace bnfold::cli {

namespace {

std::string sci(double v) { return v >= 0 ? fmt::format("{:.2e}", v) : ""; }
// -1 ("not measured") as a gap in a chart, not a value.
double or_gap(double v) { return v >= 0 ? v : NAN; }

// "all 7 values within float32 noise" or "2 of 7 values FAIL".
std::string verdict_of(const VerifyResult& r) {
  const size_t n = r.outputs.size() + r.folds.size();
  size_t failed = 0;
  for (const auto* list : {&r.outputs, &r.folds})
    for (const auto& c : *list) failed += !c.ok;
  return failed ? fmt::format("{} of {} values checked FAIL", failed, n)
                : fmt::format("all {} values checked pass", n);
}

// The verification: how it was made, a chart of each value's error against
// its float32 noise, and the table.
HtmlSections verification_sections(const VerifyResult& r, const VerifyArgs& a) {
  std::vector<std::string> labels;
  Series error{"error of the rewritten model", {}}, noise{"the original's own float32 noise", {}};
  std::vector<std::vector<std::string>> rows = {
      {"value", "kind", "error", "float32 noise", "values up to", "atol", "alone", "verdict"}};
  bool any_noise = false;
  for (const auto* list : {&r.outputs, &r.folds})
    for (const auto& c : *list) {
      labels.push_back(c.name);
      error.values.push_back(c.max_abs);
      noise.values.push_back(or_gap(c.noise));
      any_noise |= c.noise >= 0;
      rows.push_back({c.name, list == &r.outputs ? "output" : "after a fold", sci(c.max_abs), sci(c.noise),
                      fmt::format("{:.3g}", c.scale), sci(c.atol), sci(c.isolated), c.verdict});
    }
  std::vector<Series> series = {error};
  if (any_noise) series.push_back(noise);
  const std::string how = fmt::format(
      "<p>Measured against {}; inputs{}: {}. A value passes within rtol {:g} + atol {}, or within {:g}x the "
      "original's float32 noise.</p>",
      html_escape(r.reference), r.inputs_given ? "" : fmt::format(" (batch {})", a.batch), html_escape(r.inputs),
      a.rtol, a.atol < 0 ? "(1e-4 x its largest |value|)" : fmt::format("{:g}", a.atol), r.noise_factor);
  return {{"Verification: " + verdict_of(r),
           how +
               svg_bars("Largest absolute error of each value, beside the original model's own float32 noise", labels,
                        series, ChartOptions{"", "max |error|", true, 0, {}}) +
               html_table(rows)}};
}

}  // namespace

void write_fold_html(const std::string& path, const std::string& model, const std::string& written,
                     const FoldReport& report, const VerifyResult* verification, const VerifyArgs& a,
                     const nlohmann::json& speed) {
  const auto rows = report.rows();
  std::vector<std::string> paragraphs;
  std::string summary = fmt::format("{} of {} BatchNormalization folded", report.folded(), rows.size());
  if (verification) summary += verification->ok ? "; verified: " + verdict_of(*verification)
                                                : "; the verification FAILED: " + verdict_of(*verification);
  paragraphs.push_back(summary + ".");
  paragraphs.push_back(fmt::format("{} folded into the layer before, {} into the layer after, {} replaced by a "
                                   "per-channel scale-shift, {} kept.",
                                   report.count(FoldAction::Folded), report.count(FoldAction::FoldedForward),
                                   report.count(FoldAction::ScaleShift), report.count(FoldAction::Kept)));
  paragraphs.push_back(written.empty() ? "Nothing written (the verification failed; --keep-failed writes it)."
                                       : "The folded model: " + written);
  HtmlSections sections;
  std::vector<std::vector<std::string>> table = {{"BN", "producer", "action", "into", "error", "alone", "why not folded"}};
  std::vector<std::string> labels;
  Series all{"error with every fold applied", {}}, alone{"error of this fold alone", {}};
  bool measured = false, alone_measured = false;
  for (const auto& r : rows) {
    const bool folded = r.action == FoldAction::Folded || r.action == FoldAction::FoldedForward;
    table.push_back({r.bn, r.producer_op, to_string(r.action), folded ? r.target : "", sci(r.max_abs_error),
                     sci(r.isolated_error), folded ? "" : r.reason});
    if (r.max_abs_error >= 0) {
      measured = true;
      labels.push_back(r.bn);
      all.values.push_back(r.max_abs_error);
      alone.values.push_back(or_gap(r.isolated_error));
      alone_measured |= r.isolated_error >= 0;
    }
  }
  std::string body;
  if (measured)
    body += svg_bars("Largest absolute error at each fold's output (float64 reference)", labels,
                     alone_measured ? std::vector<Series>{all, alone} : std::vector<Series>{all},
                     ChartOptions{"", "max |error|", true, 0, {}});
  sections.push_back({"Every BatchNormalization", body + html_table(table)});
  if (verification) {
    const HtmlSections v = verification_sections(*verification, a);
    sections.insert(sections.end(), v.begin(), v.end());
  }
  if (speed.is_array()) {
    std::vector<std::string> batches;
    Series speedup{"speedup (median of paired runs)", {}};
    std::vector<std::vector<std::string>> t = {{"batch", "original ms", "folded ms", "speedup", "95% interval", "pairs"}};
    for (const auto& s : speed) {
      batches.push_back(fmt::format("batch {}", s["batch"].get<int64_t>()));
      speedup.values.push_back(s["speedup"].get<double>());
      t.push_back({std::to_string(s["batch"].get<int64_t>()), fmt::format("{:.3g}", s["original_ms"].get<double>()),
                   fmt::format("{:.3g}", s["folded_ms"].get<double>()), fmt::format("{:.2f}x", s["speedup"].get<double>()),
                   fmt::format("{:.2f}-{:.2f}", s["speedup_low"].get<double>(), s["speedup_high"].get<double>()) +
                       (s["too_noisy"].get<bool>() ? " (too noisy to quote)" : ""),
                   std::to_string(s["pairs"].get<size_t>())});
    }
    sections.push_back({"Speed (bnfold's executor)",
                        svg_bars("Speedup of the folded model over the original", batches, {speedup},
                                 ChartOptions{"", "original time / folded time", false, 0, {{1, "no change"}}}) +
                            html_table(t)});
  }
  write_html(path, "bnfold fold: " + model, paragraphs, sections);
}

void write_verify_html(const std::string& path, const std::string& original, const std::string& folded,
                       const VerifyResult& r, const VerifyArgs& a) {
  std::vector<std::string> paragraphs = {
      std::string(r.ok ? "Same function: " : "NOT the same function: ") + verdict_of(r) + ".",
      "Original: " + original, "Rewritten: " + folded};
  write_html(path, "bnfold verify: " + folded, paragraphs, verification_sections(r, a));
}

}  // namespace bnfold::cli
