#include <cmath>

#include "graph/batchnorm.hpp"
#include "graph/check.hpp"
#include "analysis/bn_analysis.hpp"

namespace bnfold {


DriftReport compute_drift(const Graph& g, const BnInputStats& stats) {
  DriftReport r;
  r.samples = stats.samples;
  for (const Node* n : g.topological_order()) {
    if (n->op_type() != "BatchNormalization" || !n->domain().empty()) continue;
    auto it = stats.per_bn.find(node_name(*n));
    if (it == stats.per_bn.end()) continue;
    BNFOLD_CHECK(n->input(3) && n->input(3)->is_constant() && n->input(4) && n->input(4)->is_constant(),
                 ErrorCode::Unsupported, "{}: its running statistics are not constant", n->label());
    const Tensor& rm = n->input(3)->data();
    const Tensor& rv = n->input(4)->data();
    const double eps = batchnorm_attrs(*n).epsilon;
    const ChannelMoments& m = it->second;
    const std::vector<double> dv = m.variance();
    BNFOLD_CHECK(static_cast<int64_t>(m.mean.size()) == rm.numel(), ErrorCode::InvalidArgument,
                 "{}: the statistics have {} channels, the model {}", n->label(), m.mean.size(), rm.numel());
    LayerDrift d;
    d.bn = node_name(*n);
    d.channels = rm.numel();
    for (int64_t c = 0; c < d.channels; ++c) {
      const auto uc = static_cast<size_t>(c);
      const double vr = rv.value_at(c) + eps, vd = dv[uc] + eps;
      const double dm = m.mean[uc] - rm.value_at(c);
      // KL(p||q) + KL(q||p) for two Gaussians.
      d.score += (vd + dm * dm) / (2 * vr) + (vr + dm * dm) / (2 * vd) - 1.0;
      const double z = std::fabs(dm) / std::sqrt(vr);
      d.mean_shift_sigma += z;
      d.shifted_share += z > 3.0 ? 1.0 : 0.0;
      d.var_ratio += vd / vr;
    }
    const double k = static_cast<double>(std::max<int64_t>(d.channels, 1));
    d.score /= k;
    d.mean_shift_sigma /= k;
    d.shifted_share /= k;
    d.var_ratio /= k;
    r.max_score = std::max(r.max_score, d.score);
    r.mean_score += d.score;
    r.layers.push_back(d);
  }
  BNFOLD_CHECK(!r.layers.empty(), ErrorCode::InvalidArgument,
               "no BatchNormalization of the model matches the statistics");
  r.mean_score /= static_cast<double>(r.layers.size());
  return r;
}

}  // namespace bnfold
