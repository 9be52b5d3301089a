#include "bnfold/analysis/drift_workflow.hpp"

#include "graph/check.hpp"

namespace bnfold {

DriftResult drift_model(const AnalysisModel& model, const DriftRequest& request) {
  check_drift_options(request.options);  // before a long pass over the data
  DriftResult r;
  for (const BnInputStats& s : request.statistics) r.stats.merge(s);
  if (request.data)
    r.stats.merge(collect_bn_input_stats(model.shared(), *request.data, request.batch, request.threads,
                                         request.progress));
  BNFOLD_CHECK(r.stats.samples > 0, ErrorCode::InvalidArgument,
               "nothing to judge: give data, or statistics collected elsewhere (--merge, stats=)");
  r.stats.model = model.name();
  r.report = compute_drift(model.graph(), r.stats, request.options);
  return r;
}

}  // namespace bnfold
