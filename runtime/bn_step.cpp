// A BatchNormalization step that sees its input's statistics: used when the
// session normalizes with batch statistics (a model left in train mode) or
// collects BN input statistics (drift, recalibration). It computes each
// channel's mean and biased variance over batch and spatial axes, normalizes
// with them or with the running statistics, and hands them to the run's hook.
#include <cmath>

#include "bnfold/graph/batchnorm.hpp"
#include "runtime/dnnl/dnnl_util.hpp"
#include "ops/op_util.hpp"
#include "ops/ops.hpp"
#include "runtime/plan_builder.hpp"

namespace bnfold::rt {

namespace {

class BnStatsStep : public Step {
 public:
  std::string name;
  bool batch_stats = false;
  double eps = 1e-5;
  std::vector<std::pair<DType, std::vector<int64_t>>> types;  // of in[0..4]

  void run(RunState& state) const override {
    std::vector<Tensor> t;
    for (size_t i = 0; i < 5; ++i)
      t.push_back(Tensor::borrow(types[i].first, types[i].second, state.ptr[static_cast<size_t>(in[i])]));
    const Tensor x = t[0].dtype() == DType::Float32 ? t[0] : to_float32(t[0]);
    BnStats stats;
    stats.bn = name;
    batch_moments(x, &stats.mean, &stats.var);
    const auto& d = x.dims();
    const int64_t N = d[0], C = d[1], S = product(d, 2);
    stats.count = N * S;
    Tensor y = Tensor::borrow(types[0].first, d, state.ptr[static_cast<size_t>(out[0])]);
    Tensor yf(DType::Float32, d);
    const float* px = x.data_as<float>();
    float* py = yf.mutable_data_as<float>();
    for (int64_t c = 0; c < C; ++c) {
      const auto uc = static_cast<size_t>(c);
      const double m = batch_stats ? stats.mean[uc] : t[3].value_at(c);
      const double v = batch_stats ? stats.var[uc] : t[4].value_at(c);
      const double scale = t[1].value_at(c) / std::sqrt(v + eps);
      const double shift = t[2].value_at(c) - m * scale;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s) {
          const int64_t i = (n * C + c) * S + s;
          py[i] = static_cast<float>(px[i] * scale + shift);
        }
    }
    if (y.dtype() == DType::Float32) copy_bytes(yf, &y);
    else store_from_float32(yf, &y);
    if (state.bn_hook && *state.bn_hook) (*state.bn_hook)(stats);
  }
  StepKind kind() const override { return StepKind::BnStatistics; }
  std::string describe() const override {
    return std::string("BatchNormalization (") + (batch_stats ? "batch statistics" : "collecting statistics") + ")";
  }
};

}  // namespace

bool build_bn_stats_step(PlanBuilder& b, const Node& n, const InferContext& ctx, const std::vector<int>& in,
                         bool batch_stats) {
  const BatchNormAttrs a = batchnorm_attrs(n);
  if (a.training || !a.spatial || n.inputs().size() < 5) return false;  // ONNX training semantics: the kernel
  auto step = std::make_unique<BnStatsStep>();
  step->node = &n;
  step->name = node_name(n);
  step->batch_stats = batch_stats;
  step->eps = a.epsilon;
  for (size_t i = 0; i < 5; ++i) {
    int s = in[i];
    if (!b.slot(s).plain) s = b.in_layout(s, plain_md(b.slot(s).dims));
    step->in.push_back(s);
    step->types.emplace_back(b.slot(s).dtype, b.slot(s).dims);
  }
  step->out.push_back(b.define(n.output(0), ctx.outputs()[0].dtype, ctx.outputs()[0].dims, nullptr));
  for (size_t k = 1; k < n.outputs().size(); ++k) step->out.push_back(-1);
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
