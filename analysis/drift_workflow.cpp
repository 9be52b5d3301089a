#include "bnfold/analysis/drift_workflow.hpp"

#include "analysis/utc_time.hpp"
#include "graph/check.hpp"

namespace bnfold {

DriftResult drift_model(const AnalysisModel& model, const DriftRequest& request) {
  check_drift_options(request.options);  // before a long pass over the data
  DriftResult r;
  for (const BnInputStats& s : request.statistics) r.stats.merge(s);
  if (request.data) {
    BnInputStats collected =
        collect_bn_input_stats(model.shared(), *request.data, request.batch, request.threads, request.progress);
    collected.provenance.sources = {request.data_source.empty() ? request.data->description : request.data_source};
    r.stats.merge(collected);
  }
  BNFOLD_CHECK(r.stats.samples > 0, ErrorCode::InvalidArgument,
               "nothing to judge: give data, or statistics collected elsewhere (--merge, stats=)");
  r.stats.model = model.name();
  if (r.stats.provenance.model_sha256.empty()) r.stats.provenance.model_sha256 = model.sha256();
  r.report = compute_drift(model.graph(), r.stats, request.options);
  r.report.model = model.name();
  r.report.model_sha256 = model.sha256();
  r.report.time = utc_now();
  r.report.data = r.stats.provenance;
  if (request.options.baseline) r.report.baseline = request.options.baseline->provenance;
  return r;
}

}  // namespace bnfold
