// Internal to the shift study (analysis/shift_study*.cpp).
#pragma once

#include "bnfold/analysis/shift_study.hpp"

namespace bnfold {

// The cells (families x severities) and the recalibration variants the
// options and the data allow; what is skipped goes to r.notes.
void plan_cells(const ShiftStudyOptions& o, const Dataset& data, ShiftStudyReport& r);
// The distance that decides a verdict: the largest among layers whose ratio
// passes the threshold (0 when none does), with that layer's ratio (else the
// largest ratio). A cell is "drifted" exactly when it exceeds min_effect.
void effective_distance(const DriftReport& d, ShiftCell& cell);
// Misses, alarms, per-family and overall errors, the calibration, the summary lines.
void summarize_shift_study(ShiftStudyReport& r);

}  // namespace bnfold
