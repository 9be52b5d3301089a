// The audit's precision comparison: the model in bfloat16 and as an int8 QDQ
// model (quantized with ranges calibrated on the audit's own data) against
// the model in float32 inference mode, as the audit compares train mode with
// inference mode.
#include <fmt/format.h>

#include "analysis/audit_phases.hpp"
#include "bnfold/analysis/precision_check.hpp"
#include "bnfold/analysis/quantize.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "graph/check.hpp"

namespace bnfold {

void check_audit_precisions(const std::vector<std::string>& precisions) {
  for (const auto& p : precisions) {
    BNFOLD_CHECK(p == "bf16" || p == "int8", ErrorCode::InvalidArgument,
                 "precision '{}' is not one the audit compares: bf16, int8", p);
    std::string why;
    BNFOLD_CHECK(p != "bf16" || bfloat16_support(&why), ErrorCode::Unsupported, "bf16: {}", why);
  }
}

std::vector<PrecisionCheck> audit_precisions(const AnalysisModel& model, const Dataset& data,
                                             const AuditOptions& options) {
  std::vector<PrecisionCheck> checks;
  PrecisionCheckOptions o;
  o.data = &data;
  o.samples = data.size();
  o.batch = 32;
  // The float64 reference kernels on the audit's data would cost more than
  // everything else it runs; `bnfold verify --precision` measures that.
  o.float64_reference = false;
  o.threads = options.threads;
  for (const auto& p : options.precisions) {
    if (p == "bf16") {
      checks.push_back(check_precision(model.shared(), model.shared(), Precision::BFloat16, o));
      continue;
    }
    QuantizeOptions q;
    q.data = &data;
    q.threads = options.threads;
    const QuantizeResult quantized = quantize_model(model.graph(), q);
    PrecisionCheck c = check_precision(model.shared(), quantized.model, Precision::Float32, o);
    c.verdict.push_back(fmt::format("int8: {} layers quantized (activation ranges calibrated on the same data){}.",
                                    quantized.layers.size(),
                                    quantized.skipped.empty()
                                        ? ""
                                        : fmt::format(", {} left in float32", quantized.skipped.size())));
    checks.push_back(std::move(c));
  }
  return checks;
}

}  // namespace bnfold
