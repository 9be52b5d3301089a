// The shift study as JSON (--json, Python's dict, the C API) and as an HTML
// page: heatmaps of accuracy and drift per family and severity, accuracy
// against the recalibration sample count, the tables.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>

#include "bnfold/analysis/html.hpp"
#include "bnfold/analysis/shift_study.hpp"

namespace bnfold {

using nlohmann::json;

namespace {

json variant_json(const ShiftRecalibration& v) {
  json j = {{"k", v.k}, {"prior", v.prior}};
  if (v.accuracy >= 0) j["accuracy"] = v.accuracy;
  return j;
}

json cell_json(const ShiftCell& c) {
  json rec = json::array();
  for (const auto& v : c.recalibrated) rec.push_back(variant_json(v));
  return {{"family", c.family},         {"severity", c.severity},   {"accuracy", c.accuracy},
          {"confidence", c.confidence}, {"distance", c.distance},   {"ratio", c.ratio},
          {"verdict", to_string(c.verdict)}, {"samples_to_drift", c.samples_to_drift},
          {"recalibrated", rec},        {"miss", c.miss},           {"false_alarm", c.false_alarm}};
}

json or_null(double v) { return v < 0 ? json(nullptr) : json(v); }

std::string pct(double v) { return fmt::format("{:.1f}%", 100 * v); }

// Column headers: short, so that ten of them fit the page's width.
std::string variant_label(const ShiftRecalibration& v) {
  return v.prior > 0 ? fmt::format("k={} mixed", v.k) : fmt::format("k={}", v.k);
}

// A family x severity table whose cells are coloured by `value` in [0, 1]
// (1: good, white-green; 0: bad, red), each showing its text.
std::string heatmap(const ShiftStudyReport& r, const std::function<double(const ShiftCell&)>& goodness,
                    const std::function<std::string(const ShiftCell&)>& text) {
  std::vector<int> severities;
  for (const auto& c : r.cells)
    if (std::find(severities.begin(), severities.end(), c.severity) == severities.end()) severities.push_back(c.severity);
  std::sort(severities.begin(), severities.end());
  std::string s = "<table class=\"heatmap\"><tr><th>family</th>";
  for (int v : severities) s += fmt::format("<th>severity {}</th>", v);
  s += "</tr>";
  for (const auto& f : r.families) {
    s += "<tr><td>" + html_escape(f.family) + "</td>";
    for (int v : severities) {
      const ShiftCell* cell = nullptr;
      for (const auto& c : r.cells)
        if (c.family == f.family && c.severity == v) cell = &c;
      if (!cell) {
        s += "<td></td>";
        continue;
      }
      const double g = std::clamp(goodness(*cell), 0.0, 1.0);
      // White-green at 1 through yellow to red at 0: hue 120 * g.
      s += fmt::format("<td style=\"background:hsl({:.0f},70%,{:.0f}%)\">{}</td>", 120 * g, 88 - 25 * (1 - g),
                       html_escape(text(*cell)));
    }
    s += "</tr>";
  }
  return s + "</table>";
}

}  // namespace

std::string shift_study_json(const ShiftStudyReport& r) {
  json cells = json::array(), families = json::array(), variants = json::array(), recal = json::array();
  for (const auto& c : r.cells) cells.push_back(cell_json(c));
  for (size_t v = 0; v < r.variants.size(); ++v) {
    variants.push_back(variant_json(r.variants[v]));
    recal.push_back({{"k", r.variants[v].k}, {"prior", r.variants[v].prior}, {"error", r.recalibrated_error[v]}});
  }
  for (const auto& f : r.families) {
    json fr = json::array();
    for (size_t v = 0; v < f.recalibrated_error.size(); ++v)
      fr.push_back({{"k", r.variants[v].k}, {"prior", r.variants[v].prior}, {"error", f.recalibrated_error[v]}});
    families.push_back({{"family", f.family}, {"shifted_error", f.shifted_error}, {"recalibrated_error", fr},
                        {"misses", f.misses}});
  }
  json j = {{"model", r.model},
            {"model_sha256", r.model_sha256},
            {"data", r.data},
            {"time", r.time},
            {"samples", r.samples},
            {"classes", r.classes},
            {"metric", r.metric},
            {"seed", r.seed},
            {"pixel_space", {{"mean", r.pixel_mean}, {"std", r.pixel_std}, {"how", r.pixel_space}}},
            {"drift", {{"reference", r.reference}, {"threshold", r.threshold}, {"min_effect", r.min_effect},
                       {"min_samples", r.min_samples}}},
            {"max_drop", r.max_drop},
            {"clean", cell_json(r.clean)},
            {"cells", cells},
            {"variants", variants},
            {"families", families},
            {"clean_error", r.clean_error},
            {"shifted_error", r.shifted_error},
            {"recalibrated_error", recal},
            {"misses", r.misses},
            {"false_alarms", r.false_alarms},
            {"calibration",
             {{"least_harmful_distance", or_null(r.least_harmful_distance)},
              {"largest_harmless_distance", or_null(r.largest_harmless_distance)},
              {"suggested_min_effect", or_null(r.suggested_min_effect)},
              {"harmless_cells", r.harmless_cells},
              {"alarms_at_suggestion", r.alarms_at_suggestion}}},
            {"summary", r.summary},
            {"notes", r.notes},
            {"forward_samples", r.forward_samples},
            {"seconds", r.seconds}};
  return j.dump(2);
}

void write_shift_study_html(const std::string& path, const ShiftStudyReport& r) {
  std::vector<std::string> paragraphs = r.summary;
  paragraphs.push_back(fmt::format("{} on {} ({} samples, {} classes; {}). Drift against {}: drifted above {:g}x "
                                   "the sampling noise and a distance of {:g}.",
                                   r.model, r.data, r.samples, r.classes, r.metric, r.reference, r.threshold,
                                   r.min_effect));
  for (const auto& n : r.notes) paragraphs.push_back(n);
  const double clean = r.clean.accuracy;
  HtmlSections sections;
  std::string metric = r.metric;
  if (!metric.empty()) metric[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(metric[0])));
  sections.push_back({fmt::format("{} per family and severity (clean: {})", metric, pct(clean)),
                      heatmap(r, [&](const ShiftCell& c) { return clean > 0 ? c.accuracy / clean : 0; },
                              [](const ShiftCell& c) { return pct(c.accuracy); })});
  sections.push_back(
      {"Drift verdict per cell: distance, and the samples drift needed",
       heatmap(r,
               [&](const ShiftCell& c) {
                 // Green: drift agrees with the loss (warned of a loss, or quiet on a harmless shift).
                 return c.miss ? 0.0 : c.false_alarm ? 0.45 : 1.0;
               },
               [](const ShiftCell& c) {
                 return fmt::format("{:.3g}{}", c.distance,
                                    c.samples_to_drift > 0 ? fmt::format(" (n={})", c.samples_to_drift) : "");
               }) +
           "<p>Red: a miss (lost more than the allowed drop, no \"drifted\" verdict). Yellow: drifted though at most a "
           "point was lost. Green: the verdict agrees with the loss. The distance is the largest among the layers "
           "whose distance passed the noise threshold (0: none did), the one the verdict compares with "
           "min_effect. n: the first sample count at which drift said \"drifted\".</p>"});
  if (!r.variants.empty()) {
    std::vector<double> ks;
    Series replaced{"replaced", {}}, mixed{"mixed with the model's statistics", {}};
    for (size_t v = 0; v < r.variants.size(); ++v) {
      const auto& var = r.variants[v];
      if (var.prior > 0) {
        mixed.values.push_back(1 - r.recalibrated_error[v]);
      } else {
        ks.push_back(static_cast<double>(var.k));
        replaced.values.push_back(1 - r.recalibrated_error[v]);
      }
    }
    Series shifted{"not recalibrated", std::vector<double>(ks.size(), 1 - r.shifted_error)};
    Series clean_line{"clean", std::vector<double>(ks.size(), clean)};
    std::vector<Series> series = {replaced};
    if (!mixed.values.empty()) series.push_back(mixed);
    series.push_back(shifted);
    series.push_back(clean_line);
    ChartOptions co{"samples recalibrated on (k)", "mean " + r.metric + " over the cells", false, 1, {}, false, true};
    std::vector<std::vector<std::string>> rows = {{"family", "shifted"}};
    for (const auto& v : r.variants) rows[0].push_back(variant_label(v));
    for (const auto& f : r.families) {
      std::vector<std::string> row = {f.family, pct(1 - f.shifted_error)};
      for (double e : f.recalibrated_error) row.push_back(pct(1 - e));
      rows.push_back(row);
    }
    std::vector<std::string> all = {"all", pct(1 - r.shifted_error)};
    for (double e : r.recalibrated_error) all.push_back(pct(1 - e));
    rows.push_back(all);
    const double prior = r.variants.back().prior;
    sections.push_back({"What recalibration recovers",
                        svg_lines("Mean " + r.metric + " after re-estimating the BN statistics on k shifted samples",
                                  ks, series, co) +
                            html_table(rows) +
                            (prior > 0 ? fmt::format("<p>Mean {} per family over the severities. k=8: the statistics "
                                                     "replaced by those of the cell's first 8 samples; k=8 mixed: "
                                                     "mixed with the model's as N={:g} pseudo-samples.</p>",
                                                     html_escape(r.metric), prior)
                                       : fmt::format("<p>Mean {} per family over the severities. k=8: the statistics "
                                                     "replaced by those of the cell's first 8 samples.</p>",
                                                     html_escape(r.metric)))});
  }
  std::vector<std::vector<std::string>> rows = {
      {"family", "severity", r.metric, "confidence", "distance", "x noise", "verdict", "drifted at n", "miss"}};
  for (const auto& c : r.cells)
    rows.push_back({c.family, std::to_string(c.severity), pct(c.accuracy), pct(c.confidence),
                    fmt::format("{:.3g}", c.distance), fmt::format("{:.3g}", c.ratio), to_string(c.verdict),
                    c.samples_to_drift > 0 ? std::to_string(c.samples_to_drift) : "",
                    c.miss ? "MISS" : c.false_alarm ? "alarm" : ""});
  sections.push_back({"Every cell", html_table(rows)});
  write_html(path, "bnfold shift-study: " + r.model, paragraphs, sections);
}

}  // namespace bnfold
