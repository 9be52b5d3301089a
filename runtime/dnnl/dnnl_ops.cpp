// oneDNN steps for Gemm, MatMul, BatchNormalization, pooling, element-wise,
// binary, Softmax, Concat, LRN and Reduce ops. Each factory returns false
// (changing nothing) for a case it does not cover; the reference kernel then
// runs it.
#include "graph/batchnorm.hpp"
#include "runtime/dnnl/dnnl_conv.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/op_util.hpp"

namespace bnfold::rt {

namespace {

using dims_t = dnnl::memory::dims;
using dnnl::algorithm;
using dnnl::prop_kind;

int input_slot(const PlanBuilder& b, const Node& n, size_t i) { return b.slot_of(n.input(i)); }

std::unique_ptr<DnnlStep> step_for(PlanBuilder& b, const Node& n, const dnnl::primitive_desc_base& pd,
                                   const std::string& extra = "") {
  auto s = std::make_unique<DnnlStep>(b, pd, n.op_type() + " (oneDNN)" + extra);
  s->node = &n;
  return s;
}

std::vector<int64_t> with_rank(const std::vector<int64_t>& d, size_t rank) {
  std::vector<int64_t> out(rank - d.size(), 1);
  out.insert(out.end(), d.begin(), d.end());
  return out;
}

// A float32 copy of a constant, scaled (Gemm's alpha and beta).
Tensor scaled(const Tensor& t, double factor) {
  Tensor f = to_float32(t);
  float* p = f.mutable_data_as<float>();
  for (int64_t i = 0; i < f.numel(); ++i) p[i] = static_cast<float>(p[i] * factor);
  return f;
}

}  // namespace

bool build_gemm(PlanBuilder& b, const Node& n, const InferContext& ctx) {
  if (n.attr_int("transA") != 0 || !ctx.input(1).value) return false;
  const bool trans_b = n.attr_int("transB") != 0;
  const auto& out = ctx.outputs()[0].dims;
  const int64_t M = out[0], N = out[1], K = ctx.dims(0)[1];
  const Tensor* c = nullptr;
  if (ctx.has_input(2)) {
    c = ctx.input(2).value;
    const auto& cd = ctx.dims(2);
    // Only a per-column bias ([N] or [1, N]) maps onto oneDNN's bias.
    if (!c || product(cd) != N || (cd.size() == 2 && cd[0] != 1) || cd.size() > 2) return false;
  }
  const Fusion f = plan_fusion(b, n, out, false);
  const dnnl::memory::desc w_any({N, K}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
  const dnnl::memory::desc bias_md = plain_md({N});
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  using IP = dnnl::inner_product_forward;
  const IP::desc d = c ? IP::desc(prop_kind::forward_inference, any_md({M, K}), w_any, bias_md, any_md(out))
                       : IP::desc(prop_kind::forward_inference, any_md({M, K}), w_any, any_md(out));
  dnnl::inner_product_forward::primitive_desc pd(d, attr, dnnl_engine());

  // alpha goes into the weights, beta into the bias, once.
  const double alpha = n.attr_float("alpha"), beta = n.attr_float("beta");
  const Tensor* w = b.own(scaled(*ctx.input(1).value, alpha));
  const dnnl::memory::desc w_onnx = trans_b ? plain_md({N, K})  // B is [N, K]
                                            : dnnl::memory::desc({N, K}, dnnl::memory::data_type::f32, dims_t{1, N});
  const int src = b.in_layout(input_slot(b, n, 0), pd.src_desc());
  const int dst = finish_fusion(b, f, n, out, pd.dst_desc());
  auto step = step_for(b, n, pd, f.what);
  step->arg(DNNL_ARG_SRC, src, pd.src_desc());
  step->arg(DNNL_ARG_DST, dst, pd.dst_desc());
  add_fusion_args(*step, f);
  step->fixed(DNNL_ARG_WEIGHTS, reordered_constant(*w, w_onnx, pd.weights_desc()));
  if (c) {
    const Tensor* bias = b.own(scaled(*c, beta));
    step->fixed(DNNL_ARG_BIAS, dnnl::memory(bias_md, dnnl_engine(), const_cast<void*>(bias->data())));
  }
  b.add_step(std::move(step));
  return true;
}

bool build_matmul(PlanBuilder& b, const Node& n, const InferContext& ctx) {
  const auto& a = ctx.dims(0);
  const auto& w = ctx.dims(1);
  const auto& out = ctx.outputs()[0].dims;
  if (a.size() < 2 || w.size() < 2) return false;  // vector operands: reference kernel
  const size_t rank = std::max(a.size(), w.size());
  std::vector<int64_t> ad = with_rank(a, rank), wd = with_rank(w, rank);
  const bool const_b = ctx.input(1).value != nullptr;
  if (const_b && w.size() == 2) {
    // A constant 2-D B: fold A's batch dims into M (A is plain row-major).
    ad = {product(a, 0, a.size() - 1), a.back()};
    wd = w;
  }
  const std::vector<int64_t> od = const_b && w.size() == 2 ? std::vector<int64_t>{ad[0], w[1]} : out;
  const Fusion f = plan_fusion(b, n, out, false);
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  const auto a_md = plain_md(ad), w_md = plain_md(wd), o_md = plain_md(od);
  dnnl::matmul::desc d(a_md, w_md, o_md);
  dnnl::matmul::primitive_desc pd(d, attr, dnnl_engine());
  const int src = b.in_layout(input_slot(b, n, 0), plain_md(a));
  const int dst = finish_fusion(b, f, n, out, plain_md(out));
  auto step = step_for(b, n, pd, f.what);
  step->arg(DNNL_ARG_SRC, src, a_md);
  step->arg(DNNL_ARG_DST, dst, o_md);
  add_fusion_args(*step, f);
  if (const_b) {
    step->fixed(DNNL_ARG_WEIGHTS, constant_memory(b, *ctx.input(1).value, wd));
  } else {
    step->arg(DNNL_ARG_WEIGHTS, b.in_layout(input_slot(b, n, 1), plain_md(w)), w_md);
  }
  b.add_step(std::move(step));
  return true;
}

bool build_batchnorm(PlanBuilder& b, const Node& n, const InferContext& ctx) {
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

bool build_pool(PlanBuilder& b, const Node& n, const InferContext& ctx) {
  if (n.outputs().size() > 1 && n.output(1)) return false;  // MaxPool's Indices: reference kernel
  const std::string& op = n.op_type();
  const auto& x = ctx.dims(0);
  const auto& out = ctx.outputs()[0].dims;
  const std::vector<int64_t> in_spatial(x.begin() + 2, x.end());
  WindowGeometry g;
  const bool global = op == "GlobalMaxPool" || op == "GlobalAveragePool";
  const bool max = op == "MaxPool" || op == "GlobalMaxPool";
  bool include_pad = false;
  if (global) {
    g.kernel = in_spatial;
    g.stride.assign(in_spatial.size(), 1);
    g.dilation.assign(in_spatial.size(), 1);
    g.pad_begin.assign(in_spatial.size(), 0);
    g.pad_end.assign(in_spatial.size(), 0);
  } else {
    const bool ceil = n.graph_opset() >= 10 && n.attr_int("ceil_mode") != 0;
    g = window_geometry(ctx, in_spatial, n.attr_ints("kernel_shape"), ceil, op == "MaxPool" && n.graph_opset() >= 10);
    if (op == "AveragePool") {
      auto a = n.find_attr("count_include_pad");
      include_pad = a && a->i != 0;
    }
  }
  // oneDNN derives the output size from the pads: ceil_mode becomes extra right padding.
  dims_t pad_r;
  for (size_t k = 0; k < in_spatial.size(); ++k) {
    const int64_t span = (g.kernel[k] - 1) * g.dilation[k] + 1;
    pad_r.push_back((out[k + 2] - 1) * g.stride[k] + span - in_spatial[k] - g.pad_begin[k]);
    // Counting padding in the average must not count that extra padding.
    if (include_pad && pad_r.back() != g.pad_end[k]) return false;
  }
  const algorithm alg = max ? algorithm::pooling_max
                        : include_pad ? algorithm::pooling_avg_include_padding
                                      : algorithm::pooling_avg_exclude_padding;
  const int s = input_slot(b, n, 0);
  dims_t dil;
  for (int64_t d : g.dilation) dil.push_back(d - 1);
  dnnl::pooling_v2_forward::desc d(prop_kind::forward_inference, alg, b.layout(s), any_md(out),
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

bool build_eltwise(PlanBuilder& b, const Node& n, const InferContext& ctx) {
  const auto algs = eltwise_algs(n, b);
  if (algs.size() != 1) return false;
  const int s = input_slot(b, n, 0);
  const auto md = b.layout(s);
  dnnl::eltwise_forward::desc d(prop_kind::forward_inference, algs[0].alg, md, algs[0].alpha, algs[0].beta);
  dnnl::eltwise_forward::primitive_desc pd(d, scratch_attr(), dnnl_engine());
  const int dst = b.define(n.output(0), DType::Float32, ctx.dims(0), &md);
  auto step = step_for(b, n, pd);
  step->arg(DNNL_ARG_SRC, s, md);
  step->arg(DNNL_ARG_DST, dst, md);
  b.add_step(std::move(step));
  return true;
}

bool build_binary(PlanBuilder& b, const Node& n, const InferContext& ctx) {
  const std::string& op = n.op_type();
  algorithm alg;
  bool commutative = true;
  if (op == "Add" || op == "Sum") alg = algorithm::binary_add;
  else if (op == "Mul") alg = algorithm::binary_mul;
  else if (op == "Max") alg = algorithm::binary_max;
  else if (op == "Min") alg = algorithm::binary_min;
  else if (op == "Sub") alg = algorithm::binary_sub, commutative = false;
  else if (op == "Div") alg = algorithm::binary_div, commutative = false;
  else return false;
  if (ctx.num_inputs() != 2) return false;
  const auto& out = ctx.outputs()[0].dims;
  size_t i0 = 0, i1 = 1;
  if (ctx.dims(0) != out) {
    if (!commutative || ctx.dims(1) != out) return false;  // only src1 may broadcast
    std::swap(i0, i1);
  }
  const int s0 = input_slot(b, n, i0), s1 = input_slot(b, n, i1);
  const auto md0 = b.layout(s0);
  // src1: the same layout as src0 when it has the same dims, else plain with
  // src0's rank (size-1 dims broadcast).
  const bool same = ctx.dims(i1) == out;
  const auto md1 = same ? md0 : plain_md(with_rank(ctx.dims(i1), out.size()));
  const Fusion f = plan_fusion(b, n, out, false);
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  dnnl::binary::desc d(alg, md0, md1, md0);
  dnnl::binary::primitive_desc pd(d, attr, dnnl_engine());
  const int src1 = b.in_layout(s1, same ? md0 : plain_md(ctx.dims(i1)));
  const int dst = finish_fusion(b, f, n, out, md0);
  auto step = step_for(b, n, pd, f.what);
  step->arg(DNNL_ARG_SRC_0, s0, md0);
  step->arg(DNNL_ARG_SRC_1, src1, md1);
  step->arg(DNNL_ARG_DST, dst, md0);
  add_fusion_args(*step, f);
  b.add_step(std::move(step));
  return true;
}

bool build_softmax(PlanBuilder& b, const Node& n, const InferContext& ctx) {
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
  if (n.op_type() == "LogSoftmax") {
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

bool build_concat(PlanBuilder& b, const Node& n, const InferContext& ctx) {
  const auto& out = ctx.outputs()[0].dims;
  int64_t axis = n.attr_int("axis");
  if (axis < 0) axis += static_cast<int64_t>(out.size());
  std::vector<dnnl::memory::desc> mds;
  std::vector<int> slots;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (product(ctx.dims(i)) == 0) return false;
    slots.push_back(input_slot(b, n, i));
    mds.push_back(b.layout(slots.back()));
  }
  dnnl::concat::primitive_desc pd(static_cast<int>(axis), mds, dnnl_engine(), scratch_attr());
  const auto dst_md = pd.dst_desc();
  const int dst = b.define(n.output(0), DType::Float32, out, &dst_md);
  auto step = step_for(b, n, pd);
  for (size_t i = 0; i < slots.size(); ++i) step->arg(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), slots[i], mds[i]);
  step->arg(DNNL_ARG_DST, dst, dst_md);
  b.add_step(std::move(step));
  return true;
}

bool build_lrn(PlanBuilder& b, const Node& n, const InferContext& ctx) {
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

bool build_reduce(PlanBuilder& b, const Node& n, const InferContext& ctx) {
  const std::string& op = n.op_type();
  algorithm alg;
  if (op == "ReduceMean") alg = algorithm::reduction_mean;
  else if (op == "ReduceSum") alg = algorithm::reduction_sum;
  else if (op == "ReduceMax") alg = algorithm::reduction_max;
  else if (op == "ReduceMin") alg = algorithm::reduction_min;
  else return false;
  const auto& x = ctx.dims(0);
  const auto& out = ctx.outputs()[0].dims;
  if (out.size() != x.size() || out == x || product(x) == 0) return false;  // keepdims=0: reference kernel
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

bool build_dnnl_step(PlanBuilder& b, const Node& n, const InferContext& ctx) {
  const std::string& op = n.op_type();
  if (op == "Conv") return build_conv(b, n, ctx, false);
  if (op == "ConvTranspose") return build_conv(b, n, ctx, true);
  if (op == "Gemm") return build_gemm(b, n, ctx);
  if (op == "MatMul") return build_matmul(b, n, ctx);
  if (op == "BatchNormalization") return build_batchnorm(b, n, ctx);
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalMaxPool" || op == "GlobalAveragePool")
    return build_pool(b, n, ctx);
  if (op == "Softmax" || op == "LogSoftmax") return build_softmax(b, n, ctx);
  if (op == "Concat") return build_concat(b, n, ctx);
  if (op == "LRN") return build_lrn(b, n, ctx);
  if (op.rfind("Reduce", 0) == 0) return build_reduce(b, n, ctx);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Max" || op == "Min" || op == "Sum")
    return build_binary(b, n, ctx);
  return build_eltwise(b, n, ctx);
}

}  // namespace bnfold::rt
