// ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2
// ReduceSumSquare ReduceLogSumExp ReduceLogSum, reference kernels (in double).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

std::vector<bool> reduced_axes(const InferContext& ctx, ReduceOp op) {
  const auto& d = ctx.dims(0);
  const Node& n = ctx.node();
  // ReduceSum takes axes as an input from opset 13, the others from 18.
  const bool axes_input = (op == ReduceOp::Sum && ctx.opset() >= 13) || ctx.opset() >= 18;
  std::vector<int64_t> axes;
  bool noop = false;
  if (axes_input) {
    if (ctx.has_input(1)) axes = ctx.constant_ints(1, "axes");
    noop = axes.empty() && n.attr_int("noop_with_empty_axes") != 0;
  } else if (n.has_attr("axes")) {
    axes = n.attr_ints("axes");
  }
  std::vector<bool> reduced(d.size(), axes.empty() && !noop);
  for (int64_t a : axes) reduced[static_cast<size_t>(normalize_axis(ctx, a, d.size()))] = true;
  return reduced;
}

namespace {

class Reduce : public OpKernel {
 public:
  explicit Reduce(ReduceOp op) : op_(op) {}

  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    const bool keepdims = ctx.node().attr_int("keepdims") != 0;
    reduced_ = reduced_axes(ctx, op_);
    std::vector<int64_t> out;
    for (size_t k = 0; k < d.size(); ++k) {
      if (!reduced_[k]) out.push_back(d[k]);
      else if (keepdims) out.push_back(1);
    }
    kept_dims_.clear();
    for (size_t k = 0; k < d.size(); ++k) kept_dims_.push_back(reduced_[k] ? 1 : d[k]);
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const Tensor& x = *in[0];
    const auto& d = x.dims();
    const int64_t total = out[0]->numel();
    const bool is_max = op_ == ReduceOp::Max, is_min = op_ == ReduceOp::Min, is_prod = op_ == ReduceOp::Prod;
    std::vector<double> acc(static_cast<size_t>(total),
                            is_max   ? -std::numeric_limits<double>::infinity()
                            : is_min ? std::numeric_limits<double>::infinity()
                            : is_prod ? 1.0
                                      : 0.0);
    std::vector<int64_t> count(static_cast<size_t>(total), 0);
    // Each input element lands in the output element with its reduced axes zeroed.
    const auto out_strides = strides_of(kept_dims_);
    std::vector<int64_t> idx(d.size(), 0);
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t o = 0;
      for (size_t k = 0; k < d.size(); ++k)
        if (!reduced_[k]) o += idx[k] * out_strides[k];
      const double v = x.value_at(i);
      double& a = acc[static_cast<size_t>(o)];
      if (is_max) a = std::max(a, v);
      else if (is_min) a = std::min(a, v);
      else if (is_prod) a *= v;
      else if (op_ == ReduceOp::L1) a += std::fabs(v);
      else if (op_ == ReduceOp::L2 || op_ == ReduceOp::SumSquare) a += v * v;
      else if (op_ == ReduceOp::LogSumExp) a += std::exp(v);
      else a += v;
      ++count[static_cast<size_t>(o)];
      for (size_t k = d.size(); k-- > 0;) {
        if (++idx[k] < d[k]) break;
        idx[k] = 0;
      }
    }
    Tensor r(DType::Float64, out[0]->dims());
    double* pr = r.mutable_data_as<double>();
    for (int64_t o = 0; o < total; ++o) {
      double v = acc[static_cast<size_t>(o)];
      if (op_ == ReduceOp::Mean) v = count[static_cast<size_t>(o)] ? v / static_cast<double>(count[static_cast<size_t>(o)]) : NAN;
      if (op_ == ReduceOp::L2) v = std::sqrt(v);
      if (op_ == ReduceOp::LogSumExp || op_ == ReduceOp::LogSum) v = std::log(v);
      pr[o] = v;
    }
    cast_into(r, out[0]);
  }

 private:
  ReduceOp op_;
  std::vector<bool> reduced_;
  std::vector<int64_t> kept_dims_;
};

}  // namespace

std::unique_ptr<OpKernel> make_reduce(const Node&, int variant) {
  return std::make_unique<Reduce>(static_cast<ReduceOp>(variant));
}

}  // namespace bnfold::ops
