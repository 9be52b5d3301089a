// oneDNN steps for pooling (ceil_mode as extra right padding) and the
// reductions oneDNN has.
#include "runtime/dnnl/dnnl_builders.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::rt {

using dnnl::algorithm;
using dnnl::prop_kind;

bool build_pool(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx) {
  if (n.outputs().size() > 1 && n.output(1)) return false;  // MaxPool's Indices: reference kernel
  const auto op = e.as<PoolOp>();
  const auto& x = ctx.dims(0);
  const auto& out = ctx.outputs()[0].dims;
  const std::vector<int64_t> in_spatial(x.begin() + 2, x.end());
  WindowGeometry g;
  const bool global = op == PoolOp::GlobalMaxPool || op == PoolOp::GlobalAveragePool;
  const bool max = op == PoolOp::MaxPool || op == PoolOp::GlobalMaxPool;
  bool include_pad = false, ceil = false;
  if (global) {
    g.kernel = in_spatial;
    g.stride.assign(in_spatial.size(), 1);
    g.dilation.assign(in_spatial.size(), 1);
    g.pad_begin.assign(in_spatial.size(), 0);
    g.pad_end.assign(in_spatial.size(), 0);
  } else {
    ceil = n.graph_opset() >= 10 && n.attr_int("ceil_mode") != 0;
    g = pool_geometry(ctx, in_spatial, n.attr_ints("kernel_shape"), ceil, op == PoolOp::MaxPool && n.graph_opset() >= 10);
    if (op == PoolOp::AveragePool) {
      auto a = n.find_attr("count_include_pad");
      include_pad = a && a->i != 0;
    }
  }
  // oneDNN derives the output size from the pads: ceil_mode, and a window
  // larger than the padded input, become extra right padding.
  dims_t pad_r;
  for (size_t k = 0; k < in_spatial.size(); ++k) {
    if (out[k + 2] == 0) return false;  // an empty output: nothing for oneDNN to do
    const int64_t span = (g.kernel[k] - 1) * g.dilation[k] + 1;
    pad_r.push_back((out[k + 2] - 1) * g.stride[k] + span - in_spatial[k] - g.pad_begin[k]);
    // With ceil_mode, counting padding in the average must not count that
    // extra padding; without, ONNX Runtime divides by the whole window, as
    // oneDNN does (see pool_geometry).
    if (include_pad && ceil && pad_r.back() > g.pad_end[k]) return false;
  }
  const algorithm alg = max ? algorithm::pooling_max
                        : include_pad ? algorithm::pooling_avg_include_padding
                                      : algorithm::pooling_avg_exclude_padding;
  const int s = input_slot(b, n, 0);
  dims_t dil;
  for (int64_t d : g.dilation) dil.push_back(d - 1);
  dnnl::pooling_v2_forward::desc d(prop_kind::forward_inference, alg, b.layout(s), any_md(out, b.layout(s).data_type()),
                                   dims_t(g.stride.begin(), g.stride.end()), dims_t(g.kernel.begin(), g.kernel.end()),
                                   dil, dims_t(g.pad_begin.begin(), g.pad_begin.end()), pad_r);
  dnnl::pooling_v2_forward::primitive_desc pd(d, scratch_attr(), dnnl_engine());
  const auto dst_md = pd.dst_desc();
  const int dst = b.define(n.output(0), DType::Float32, out, &dst_md);
  auto step = step_for(b, n, pd);
  step->arg(DNNL_ARG_SRC, s, b.layout(s));
  step->arg(DNNL_ARG_DST, dst, dst_md);
  b.add_step(std::move(step));
  return true;
}

namespace {

// ReduceMean/ReduceMax over every spatial axis (N and C kept) is global
// pooling, which runs in the producer's (blocked) layout; keepdims=0 reads
// the [N, C, 1, ...] result as [N, C] (the same bytes, plain).
bool build_spatial_reduce(PlanBuilder& b, ReduceOp op, const Node& n, const InferContext& ctx,
                          const std::vector<bool>& reduced) {
  const auto& x = ctx.dims(0);
  if (x.size() < 3 || reduced[0] || reduced[1] || (op != ReduceOp::Mean && op != ReduceOp::Max)) return false;
  for (size_t k = 2; k < x.size(); ++k)
    if (!reduced[k]) return false;
  const int s = input_slot(b, n, 0);
  std::vector<int64_t> out_4d = {x[0], x[1]};
  out_4d.resize(x.size(), 1);
  const dims_t kernel(x.begin() + 2, x.end()), ones(x.size() - 2, 1), zeros(x.size() - 2, 0);
  const auto alg = op == ReduceOp::Max ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
  dnnl::pooling_v2_forward::desc d(prop_kind::forward_inference, alg, b.layout(s), any_md(out_4d, b.layout(s).data_type()), ones, kernel,
                                   zeros, zeros, zeros);
  dnnl::pooling_v2_forward::primitive_desc pd(d, scratch_attr(), dnnl_engine());
  const auto dst_md = pd.dst_desc();
  const bool keepdims = ctx.outputs()[0].dims == out_4d;
  const int pooled = b.define(keepdims ? n.output(0) : nullptr, DType::Float32, out_4d, &dst_md);
  auto step = step_for(b, n, pd, " as global pooling");
  step->arg(DNNL_ARG_SRC, s, b.layout(s));
  step->arg(DNNL_ARG_DST, pooled, dst_md);
  b.add_step(std::move(step));
  if (!keepdims) b.view(n.output(0), b.in_layout(pooled, plain_md(out_4d)), ctx.outputs()[0].dims);
  return true;
}

}  // namespace

bool build_reduce(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx) {
  const auto& x = ctx.dims(0);
  const auto& out = ctx.outputs()[0].dims;
  if (product(x) == 0) return false;
  if (build_spatial_reduce(b, e.as<ReduceOp>(), n, ctx, reduced_axes(ctx, e.as<ReduceOp>()))) return true;
  algorithm alg;
  switch (e.as<ReduceOp>()) {
    case ReduceOp::Mean: alg = algorithm::reduction_mean; break;
    case ReduceOp::Sum: alg = algorithm::reduction_sum; break;
    case ReduceOp::Max: alg = algorithm::reduction_max; break;
    case ReduceOp::Min: alg = algorithm::reduction_min; break;
    default: return false;
  }
  if (out.size() != x.size() || out == x) return false;  // keepdims=0: reference kernel
  dnnl::reduction::desc d(alg, plain_md(x), plain_md(out), 0.f, 0.f);
  dnnl::reduction::primitive_desc pd(d, scratch_attr(), dnnl_engine());
  const int src = b.in_layout(input_slot(b, n, 0), plain_md(x));
  const int dst = b.define(n.output(0), DType::Float32, out, nullptr);
  auto step = step_for(b, n, pd);
  step->arg(DNNL_ARG_SRC, src, plain_md(x));
  step->arg(DNNL_ARG_DST, dst, plain_md(out));
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
