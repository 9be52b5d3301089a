// What the shift study's cells add up to: errors per family and overall,
// whether drift warned of every cell that lost accuracy, and which drift
// distance separates harmless shifts from harmful ones for this model.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "analysis/shift_study_parts.hpp"
#include "bnfold/analysis/corruptions.hpp"
#include "graph/check.hpp"

namespace bnfold {

namespace {

constexpr double kHarmless = 0.01;  // a cell that lost at most a point "changed nothing that matters"

std::string pct(double v) { return fmt::format("{:.1f}%", 100 * v); }

std::string variant_name(const ShiftRecalibration& v) {
  return v.prior > 0 ? fmt::format("k={} mixed N={:g}", v.k, v.prior) : fmt::format("k={} replaced", v.k);
}

double drop(const ShiftStudyReport& r, const ShiftCell& c) { return r.clean.accuracy - c.accuracy; }

}  // namespace

void plan_cells(const ShiftStudyOptions& o, const Dataset& data, ShiftStudyReport& r) {
  std::vector<std::string> families = o.families;
  if (families.empty())
    for (const auto& f : corruption_families()) families.push_back(f.name);
  const std::set<int> severities(o.severities.begin(), o.severities.end());
  const int64_t channels = data.sample_dims()[0];
  std::set<std::string> seen;
  for (const auto& f : families) {
    if (!seen.insert(f).second) continue;
    if (!corruption_applies(f, channels)) {
      r.notes.push_back(fmt::format("{} skipped: it needs 2 or more channels; the images have {}", f, channels));
      continue;
    }
    for (int s : severities) {
      ShiftCell c;
      c.family = f;
      c.severity = s;
      r.cells.push_back(c);
    }
  }
  BNFOLD_CHECK(!r.cells.empty(), ErrorCode::InvalidArgument, "no corruption family applies to these images");
  const std::set<int64_t> ks(o.recalibration_samples.begin(), o.recalibration_samples.end());
  for (int64_t k : ks) {
    if (k > data.size()) {
      r.notes.push_back(fmt::format("recalibration on {} samples skipped: the data has {}", k, data.size()));
      continue;
    }
    r.variants.push_back({k, 0, -1});
    if (o.prior > 0) r.variants.push_back({k, o.prior, -1});
  }
}

void effective_distance(const DriftReport& d, ShiftCell& cell) {
  cell.distance = 0;
  cell.ratio = 0;
  bool passed = false;
  for (const auto& l : d.layers) {
    if (l.ratio > d.threshold && (!passed || l.distance > cell.distance)) {
      passed = true;
      cell.distance = l.distance;
      cell.ratio = l.ratio;
    }
    if (!passed) cell.ratio = std::max(cell.ratio, l.ratio);
  }
}

void summarize_shift_study(ShiftStudyReport& r) {
  const size_t nv = r.variants.size();
  r.clean_error = 1 - r.clean.accuracy;
  r.recalibrated_error.assign(nv, 0);
  r.shifted_error = 0;
  double harmful = -1, harmless = -1;
  for (ShiftCell& c : r.cells) {
    const double lost = drop(r, c);
    c.miss = lost > r.max_drop && c.verdict != DriftVerdict::Drifted;
    c.false_alarm = c.verdict == DriftVerdict::Drifted && lost <= kHarmless;
    r.misses += c.miss;
    r.false_alarms += c.false_alarm;
    if (lost > r.max_drop) harmful = harmful < 0 ? c.distance : std::min(harmful, c.distance);
    if (lost <= kHarmless) harmless = std::max(harmless, c.distance);
    r.shifted_error += (1 - c.accuracy) / static_cast<double>(r.cells.size());
    for (size_t v = 0; v < nv; ++v)
      r.recalibrated_error[v] += (1 - c.recalibrated[v].accuracy) / static_cast<double>(r.cells.size());
    if (r.families.empty() || r.families.back().family != c.family) {
      r.families.push_back({c.family, 0, std::vector<double>(nv, 0), 0});
    }
  }
  for (ShiftFamilySummary& f : r.families) {
    std::vector<const ShiftCell*> cells;
    for (const ShiftCell& c : r.cells)
      if (c.family == f.family) cells.push_back(&c);
    const double m = static_cast<double>(cells.size());
    for (const ShiftCell* c : cells) {
      f.shifted_error += (1 - c->accuracy) / m;
      f.misses += c->miss;
      for (size_t v = 0; v < nv; ++v) f.recalibrated_error[v] += (1 - c->recalibrated[v].accuracy) / m;
    }
  }
  r.least_harmful_distance = harmful;
  r.largest_harmless_distance = harmless;
  // The suggestion keeps every harmful cell "drifted" with a margin (0.8x the
  // least harmful distance: a deployment's estimate carries sampling noise the
  // study's paired samples do not), and when harmless and harmful cells
  // separate, sits between them (geometric mean).
  if (harmful > 0) {
    r.suggested_min_effect = 0.8 * harmful;
    if (harmless > 0 && harmless < harmful) r.suggested_min_effect = std::min(r.suggested_min_effect, std::sqrt(harmless * harmful));
    for (const ShiftCell& c : r.cells)
      if (drop(r, c) <= kHarmless) {
        ++r.harmless_cells;
        r.alarms_at_suggestion += c.distance > r.suggested_min_effect;
      }
  }

  // The answer first: how much the shifts cost and how much recalibration wins back.
  const char* what = r.metric == "accuracy" ? "error" : "disagreement with the clean predictions";
  const ShiftCell* worst = &r.cells.front();
  for (const ShiftCell& c : r.cells)
    if (c.accuracy < worst->accuracy) worst = &c;
  size_t best = 0;
  for (size_t v = 1; v < nv; ++v)
    if (r.recalibrated_error[v] < r.recalibrated_error[best]) best = v;
  std::string line = fmt::format("Mean {} {} clean, {} under {} shifted cells (worst: {} {}, {})", what,
                                 pct(r.clean_error), pct(r.shifted_error), r.cells.size(), worst->family,
                                 worst->severity, pct(1 - worst->accuracy));
  if (nv)
    line += fmt::format("; recalibrated on {}: {}", variant_name(r.variants[best]), pct(r.recalibrated_error[best]));
  r.summary.push_back(line + ".");
  const std::string loss = fmt::format("more than {:g} points", 100 * r.max_drop);
  if (r.misses == 0) {
    r.summary.push_back(fmt::format("Drift warned of every cell that lost {} ({} false alarm{}: drifted with at "
                                    "most a point lost).",
                                    loss, r.false_alarms, r.false_alarms == 1 ? "" : "s"));
  } else {
    std::string missed;
    for (const ShiftCell& c : r.cells)
      if (c.miss) missed += fmt::format("{}{} {}", missed.empty() ? "" : ", ", c.family, c.severity);
    r.summary.push_back(fmt::format("Drift missed {} cell{} that lost {}: {}.", r.misses, r.misses == 1 ? "" : "s",
                                    loss, missed));
  }
  if (r.suggested_min_effect > 0)
    r.summary.push_back(fmt::format(
        "Calibration: cells that lost {} reached a drift distance of at least {:.3g}; {}. --min-effect {:.2g} keeps "
        "every harmful cell drifted{} (in use: {:g}).",
        loss, harmful,
        r.harmless_cells ? fmt::format("cells that lost at most a point reached up to {:.3g}", harmless)
                         : std::string("no cell lost a point or less"),
        r.suggested_min_effect,
        r.harmless_cells ? fmt::format(" and alarms on {} of the {} harmless ones", r.alarms_at_suggestion,
                                       r.harmless_cells)
                         : "",
        r.min_effect));
  else
    r.summary.push_back(fmt::format("No cell lost {}: nothing to calibrate the drift threshold on.", loss));
  r.notes.push_back(fmt::format(
      "Each cell corrupts the same {} samples; its drift is judged against {}, as samples arrive (at 8, 16, 32, ... "
      "samples; no verdict below {}). Recalibration uses the cell's first k samples; its accuracy is measured on all "
      "of them.",
      r.samples, r.reference, r.min_samples));
}

}  // namespace bnfold
