// The one JSON form of each report (documented in docs/cli.md): the CLI
// prints it with --json, the Python module returns it as a dict, the C API
// hands it to the caller.
#pragma once

#include "bnfold/graph/export.hpp"

#include <string>

#include "bnfold/analysis/bn_analysis.hpp"
#include "bnfold/analysis/fold_workflow.hpp"
#include "bnfold/analysis/recalibrate_workflow.hpp"
#include "bnfold/analysis/verify_fold.hpp"

namespace bnfold BNFOLD_API {

std::string fold_json(const FoldResult& result);
// `bnfold inspect --json`: inputs, outputs, opsets, op counts, parameters and
// every BatchNormalization as a folding pass sees it; `path` names the model.
std::string inspect_json(const Graph& graph, const std::string& path);
std::string verify_json(const VerifyResult& result);  // `bnfold verify`; fold_json's "verification"
std::string drift_json(const DriftReport& report);
std::string audit_json(const AuditReport& report);
std::string recalibrate_json(const RecalibrateResult& result);

}  // namespace bnfold
