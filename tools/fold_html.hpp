// The HTML reports of `bnfold fold --html` and `bnfold verify --html`: the
// same page style and charts as audit, drift and recalibrate.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "bnfold/analysis/verify_fold.hpp"
#include "bnfold/passes/fold_report.hpp"
#include "tools/verify_cli.hpp"

namespace bnfold::cli {

// `verification` may be null (fold without --verify); `speed` is fold
// --bench's rows (null when not timed).
void write_fold_html(const std::string& path, const std::string& model, const std::string& written,
                     const FoldReport& report, const VerifyResult* verification, const VerifyArgs& a,
                     const nlohmann::json& speed);
void write_verify_html(const std::string& path, const std::string& original, const std::string& folded,
                       const VerifyResult& r, const VerifyArgs& a);

}  // namespace bnfold::cli
