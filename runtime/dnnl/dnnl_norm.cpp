// oneDNN steps for BatchNormalization (inference), LayerNormalization,
// Softmax/LogSoftmax and LRN.
#include "runtime/dnnl/dnnl_builders.hpp"
#include "bnfold/graph/batchnorm.hpp"
#include "ops/op_util.hpp"

namespace bnfold::rt {

using dnnl::algorithm;
using dnnl::prop_kind;

bool build_batchnorm(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
  if (batchnorm_attrs(n).training) return false;  // ONNX training semantics: the reference kernel
  for (size_t i = 1; i <= 4; ++i)
    if (!ctx.input(i).value) return false;
  const auto& x = ctx.dims(0);
  const int64_t C = x[1];
  for (size_t i = 1; i <= 4; ++i)
    if (product(ctx.dims(i)) != C) return false;  // spatial=0 (per-activation): reference kernel
  const int s = input_slot(b, n, 0);
  const auto md = b.layout(s);
  const auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
                     dnnl::normalization_flags::use_shift;
  dnnl::batch_normalization_forward::desc d(prop_kind::forward_inference, md,
                                            static_cast<float>(n.attr_float("epsilon")), flags);
  dnnl::batch_normalization_forward::primitive_desc pd(d, scratch_attr(), dnnl_engine());
  const int dst = b.define(n.output(0), DType::Float32, x, &md);
  auto step = step_for(b, n, pd);
  step->arg(DNNL_ARG_SRC, s, md);
  step->arg(DNNL_ARG_DST, dst, md);
  step->fixed(DNNL_ARG_SCALE, constant_memory(b, *ctx.input(1).value, {C}));
  step->fixed(DNNL_ARG_SHIFT, constant_memory(b, *ctx.input(2).value, {C}));
  step->fixed(DNNL_ARG_MEAN, constant_memory(b, *ctx.input(3).value, {C}));
  step->fixed(DNNL_ARG_VARIANCE, constant_memory(b, *ctx.input(4).value, {C}));
  b.add_step(std::move(step));
  return true;
}

// LayerNormalization over the axes from `axis` on is oneDNN's layer
// normalization of the [outer, inner] view (it normalizes the last dim), with
// constant scale and bias. The mean and inverse-std outputs, when a model
// reads them, are left to the reference kernel.
bool build_layer_norm(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
  const auto& x = ctx.dims(0);
  if (x.empty() || ctx.dtype(0) != DType::Float32) return false;
  for (size_t k = 1; k < n.outputs().size(); ++k)
    if (n.output(k)) return false;
  const bool bias = ctx.has_input(2);
  if (!ctx.input(1).value || ctx.dtype(1) != DType::Float32 || (bias && (!ctx.input(2).value || ctx.dtype(2) != DType::Float32)))
    return false;
  int64_t axis = n.attr_int("axis");
  if (axis < 0) axis += static_cast<int64_t>(x.size());
  const int64_t outer = product(x, 0, static_cast<size_t>(axis)), inner = product(x, static_cast<size_t>(axis));
  if (outer == 0 || inner == 0) return false;
  const auto md = plain_md({outer, inner});
  auto flags = dnnl::normalization_flags::use_scale;
  if (bias) flags = flags | dnnl::normalization_flags::use_shift;
  dnnl::layer_normalization_forward::desc d(prop_kind::forward_inference, md, n.attr_float("epsilon"), flags);
  dnnl::layer_normalization_forward::primitive_desc pd(d, scratch_attr(), dnnl_engine());
  const int src = b.in_layout(input_slot(b, n, 0), plain_md(x));
  const int dst = b.define(n.output(0), DType::Float32, x, nullptr);
  auto step = step_for(b, n, pd);
  step->arg(DNNL_ARG_SRC, src, md);
  step->arg(DNNL_ARG_DST, dst, md);
  step->fixed(DNNL_ARG_SCALE, constant_memory(b, *ctx.input(1).value, {inner}));
  if (bias) step->fixed(DNNL_ARG_SHIFT, constant_memory(b, *ctx.input(2).value, {inner}));
  b.add_step(std::move(step));
  return true;
}

bool build_softmax(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx) {
  const auto& x = ctx.dims(0);
  if (x.empty()) return false;
  int64_t axis = n.attr_int("axis");
  if (axis < 0) axis += static_cast<int64_t>(x.size());
  std::vector<int64_t> view = x;
  if (n.graph_opset() < 13) {  // coerced to 2-D at axis
    view = {product(x, 0, static_cast<size_t>(axis)), product(x, static_cast<size_t>(axis))};
    axis = 1;
  }
  const auto md = plain_md(view);
  std::unique_ptr<dnnl::primitive_desc> pd;
  if (e.as<SoftmaxOp>() == SoftmaxOp::LogSoftmax) {
    dnnl::logsoftmax_forward::desc d(prop_kind::forward_inference, md, static_cast<int>(axis));
    pd = std::make_unique<dnnl::logsoftmax_forward::primitive_desc>(d, scratch_attr(), dnnl_engine());
  } else {
    dnnl::softmax_forward::desc d(prop_kind::forward_inference, md, static_cast<int>(axis));
    pd = std::make_unique<dnnl::softmax_forward::primitive_desc>(d, scratch_attr(), dnnl_engine());
  }
  const int src = b.in_layout(input_slot(b, n, 0), plain_md(x));
  const int dst = b.define(n.output(0), DType::Float32, x, nullptr);
  auto step = step_for(b, n, *pd);
  step->arg(DNNL_ARG_SRC, src, md);
  step->arg(DNNL_ARG_DST, dst, md);
  b.add_step(std::move(step));
  return true;
}

bool build_lrn(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
  const int64_t size = n.attr_int("size");
  if (size % 2 == 0 || ctx.dims(0).size() < 3) return false;  // oneDNN's window is symmetric
  const int s = input_slot(b, n, 0);
  const auto md = b.layout(s);
  dnnl::lrn_forward::desc d(prop_kind::forward_inference, algorithm::lrn_across_channels, md, size,
                            n.attr_float("alpha"), n.attr_float("beta"), n.attr_float("bias"));
  dnnl::lrn_forward::primitive_desc pd(d, scratch_attr(), dnnl_engine());
  const auto dst_md = pd.dst_desc();
  const int dst = b.define(n.output(0), DType::Float32, ctx.dims(0), &dst_md);
  auto step = step_for(b, n, pd);
  step->arg(DNNL_ARG_SRC, s, md);
  step->arg(DNNL_ARG_DST, dst, dst_md);
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
