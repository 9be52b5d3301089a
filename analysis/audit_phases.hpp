// Internal to the audit (analysis/audit.cpp measures, audit_verdict.cpp judges).
#pragma once

#include "bnfold/analysis/analysis_model.hpp"
#include "bnfold/analysis/bn_analysis.hpp"

namespace bnfold {

// From the measurements in `report`: agree_from_batch, the culprits (BNs that
// alone break `tolerance`; when none does but the whole model does, the three
// that contribute most) and the verdict lines, the first answering the question.
void judge_audit(AuditReport& report, double tolerance);

// The comparisons of AuditOptions::precisions (analysis/audit_precision.cpp).
std::vector<PrecisionCheck> audit_precisions(const AnalysisModel& model, const Dataset& data,
                                             const AuditOptions& options);

}  // namespace bnfold
