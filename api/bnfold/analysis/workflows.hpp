// The workflows every front end offers, written once, one file each: the
// CLI, the Python module and the C API call these and only parse, call and
// print, so that the same model and data give the same numbers whichever way
// they come in.
#pragma once

#include "bnfold/analysis/analysis_model.hpp"        // AnalysisModel, data options, mode names
#include "bnfold/analysis/bn_analysis.hpp"           // audit
#include "bnfold/analysis/drift_workflow.hpp"        // drift_model
#include "bnfold/analysis/fold_workflow.hpp"         // fold_model
#include "bnfold/analysis/recalibrate_workflow.hpp"  // recalibrate_model
#include "bnfold/analysis/report_json.hpp"           // the JSON form of each report
#include "bnfold/analysis/shift_study.hpp"           // shift_study, its JSON and HTML
