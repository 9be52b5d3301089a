// Drift as one library call: statistics merged from wherever they were
// collected (files, shards, a monitoring session) and from data, then the
// verdict. `bnfold drift`, Python's drift() and the C API's bnfold_drift all
// call drift_model, so the same inputs give the same verdict everywhere.
#pragma once

#include "bnfold/graph/export.hpp"

#include <vector>

#include "bnfold/analysis/analysis_model.hpp"
#include "bnfold/analysis/bn_analysis.hpp"

namespace bnfold BNFOLD_API {

struct DriftRequest {
  std::vector<BnInputStats> statistics;  // collected elsewhere: merged (Chan), in this order
  const Dataset* data = nullptr;         // data to collect more from (inference mode)
  std::string data_source;               // what `data` is, for the provenance ("factory2/"); "" its description
  int64_t batch = 32;                    // largest batch run at once over `data`
  int threads = 0;
  Progress progress;                     // over `data`
  DriftOptions options;                  // baseline, threshold, min_effect, min_samples
};
struct DriftResult {
  BnInputStats stats;  // everything judged, merged; its model is the model's name (what --save-stats writes)
  DriftReport report;  // with the provenance of the data and of the baseline, the model and the time
};
// Throws InvalidArgument when there is nothing to judge (no statistics, no
// data), for statistics of another model, or for options check_drift_options
// refuses.
DriftResult drift_model(const AnalysisModel& model, const DriftRequest& request);

}  // namespace bnfold
