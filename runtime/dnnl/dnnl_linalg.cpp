// oneDNN steps for Gemm (inner product: alpha and beta folded into the
// weights and bias once) and MatMul, with fused post-ops.
#include "runtime/dnnl/dnnl_builders.hpp"
#include "runtime/dnnl/dnnl_int8.hpp"
#include "runtime/dnnl/impl_choice.hpp"

#include <fmt/format.h>
#include "ops/op_util.hpp"

namespace bnfold::rt {

using dnnl::algorithm;
using dnnl::prop_kind;


namespace {

// Gemm with large constant weights at more than two rows, as oneDNN's matmul
// on the model's own bytes: the inner product's faster blocked layout would
// be a copy as large as the weights (vgg11_bn's 25088x4096 classifier, 411
// MB). Measured on 2 threads, AVX-512, for that classifier: 1.22x the blocked
// inner product's time at 8 rows, 1.29x at 32, 0.95x at 128.
bool build_gemm_in_place(PlanBuilder& b, const Node& n, const InferContext& ctx, const Tensor* c, const Fusion& f) {
  const Tensor* w = ctx.input(1).value;
  const auto& out = ctx.outputs()[0].dims;
  const int64_t M = out[0], N = out[1], K = ctx.dims(0)[1];
  constexpr uint64_t kLargeWeights = 64u << 20;
  // Under bf16 the weights are a bf16 copy anyway: the inner product's layout then.
  if (M <= 2 || w->dtype() != DType::Float32 || w->nbytes() < kLargeWeights ||
      b.compute_type() != dnnl::memory::data_type::f32)
    return false;
  if (n.attr_float("alpha") != 1.0f || (c && n.attr_float("beta") != 1.0f)) return false;  // they would be copies
  // B is [N, K] (transB) or [K, N], row-major: as matmul's [K, N] weights.
  const auto w_tag = n.attr_int("transB") != 0 ? dnnl::memory::format_tag::ba : dnnl::memory::format_tag::ab;
  const dnnl::memory::desc w_md({K, N}, dnnl::memory::data_type::f32, w_tag);
  const dnnl::memory::desc bias_md = plain_md({1, N});
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  const auto d = c ? dnnl::matmul::desc(plain_md({M, K}), w_md, bias_md, plain_md(out))
                   : dnnl::matmul::desc(plain_md({M, K}), w_md, plain_md(out));
  const dnnl::matmul::primitive_desc pd(d, attr, dnnl_engine());
  const int src = b.in_layout(input_slot(b, n, 0), plain_md({M, K}));
  const int dst = finish_fusion(b, f, n, out, plain_md(out));
  auto step = step_for(b, n, pd, f.what + " (weights not copied)");
  step->arg(DNNL_ARG_SRC, src, plain_md({M, K}));
  step->arg(DNNL_ARG_DST, dst, plain_md(out));
  add_fusion_args(*step, f);
  step->fixed(DNNL_ARG_WEIGHTS, b.constant_weights(*w, 1.0, w_md, w_md));  // the model's bytes, not a copy
  if (c) step->fixed(DNNL_ARG_BIAS, b.constant_weights(*c, 1.0, bias_md, bias_md));
  b.add_step(std::move(step));
  return true;
}

}  // namespace

namespace {

// sum_k (x_k - z) w_kc = sum_k x_k w_kc - z sum_k w_kc: oneDNN 2.6's inner
// product takes no zero point, and with no padding to respect the second
// term joins the (prescaled) bias. `w_at(k, c)` reads the int8 weights.
template <typename At>
void zero_point_into_bias(PlanBuilder& b, Int8Conv& q, int64_t K, int64_t N, At w_at) {
  if (q.zero_point == 0) return;
  Tensor bias(DType::Float32, {N});
  for (int64_t c = 0; c < N; ++c) {
    double sum = 0;
    for (int64_t k = 0; k < K; ++k) sum += w_at(k, c);
    bias.mutable_data_as<float>()[c] = static_cast<float>((q.bias ? q.bias->value_at(c) : 0.0) - q.zero_point * sum);
  }
  q.bias = b.own(std::move(bias));
  q.zero_point = 0;
}

// A QDQ model's MatMul with constant int8 weights [K, N] as oneDNN's int8
// matmul on the quantized data, its leading dims folded into M; false
// (changing nothing) where oneDNN offers only its reference kernel.
bool matmul_int8(PlanBuilder& b, const Node& n, const InferContext& ctx, Int8Conv q, const Fusion& f) {
  using dt = dnnl::memory::data_type;
  const auto& a = ctx.dims(0);
  const auto& out = ctx.outputs()[0].dims;
  const int64_t K = a.back(), N = ctx.dims(1)[1], M = product(a, 0, a.size() - 1);
  const int8_t* w = q.weights->data_as<int8_t>();
  zero_point_into_bias(b, q, K, N, [w, N](int64_t k, int64_t c) { return w[k * N + c]; });
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  add_int8_attr(attr, q);
  const dnnl::memory::desc a_md = plain_md({M, K}, q.src_type), o_md = plain_md({M, N});
  const dnnl::memory::desc w_any({K, N}, dt::s8, dnnl::memory::format_tag::any), bias_md = plain_md({1, N});
  const auto d = q.bias ? dnnl::matmul::desc(a_md, w_any, bias_md, o_md) : dnnl::matmul::desc(a_md, w_any, o_md);
  const dnnl::matmul::primitive_desc pd(d, attr, dnnl_engine());
  if (!optimized(impl_kind(pd.impl_info_str()))) return false;
  const int src = b.in_layout(q.src, plain_md(a, q.src_type));
  const int dst = finish_fusion(b, f, n, out, plain_md(out));
  auto step = step_for(b, n, pd, f.what);
  step->why = fmt::format("int8: {} on the quantized data, scales per column", pd.impl_info_str());
  step->arg(DNNL_ARG_SRC, src, a_md);
  step->arg(DNNL_ARG_DST, dst, o_md);
  add_fusion_args(*step, f);
  step->fixed(DNNL_ARG_WEIGHTS, b.constant_weights(*q.weights, 1.0, plain_md({K, N}, dt::s8), pd.weights_desc()));
  if (q.bias) step->fixed(DNNL_ARG_BIAS, b.constant_weights(*q.bias, 1.0, bias_md, bias_md));
  add_int8_args(b, *step, q);
  b.add_step(std::move(step));
  return true;
}

}  // namespace

// A QDQ model's Gemm as oneDNN's int8 inner product on the quantized data;
// false (changing nothing) where it offers only its reference kernel.
bool gemm_int8(PlanBuilder& b, const Node& n, const InferContext& ctx, Int8Conv q, const Fusion& f) {
  const auto& out = ctx.outputs()[0].dims;
  const int64_t M = out[0], N = out[1], K = ctx.dims(0)[1];
  const bool trans_b = n.attr_int("transB") != 0;
  const int8_t* w = q.weights->data_as<int8_t>();
  zero_point_into_bias(b, q, K, N, [w, trans_b, K, N](int64_t k, int64_t c) { return trans_b ? w[c * K + k] : w[k * N + c]; });
  using dt = dnnl::memory::data_type;
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  add_int8_attr(attr, q);
  using IP = dnnl::inner_product_forward;
  const dnnl::memory::desc w_any({N, K}, dt::s8, dnnl::memory::format_tag::any), bias_md = plain_md({N});
  const IP::desc d = q.bias ? IP::desc(prop_kind::forward_inference, any_md({M, K}, q.src_type), w_any, bias_md,
                                       any_md(out, dt::f32))
                            : IP::desc(prop_kind::forward_inference, any_md({M, K}, q.src_type), w_any,
                                       any_md(out, dt::f32));
  const IP::primitive_desc pd(d, attr, dnnl_engine());
  if (!optimized(impl_kind(pd.impl_info_str()))) return false;
  // The int8 weights as ONNX has them: [N, K] (transB) or [K, N].
  const dnnl::memory::desc w_onnx = n.attr_int("transB") != 0 ? plain_md({N, K}, dt::s8)
                                                               : dnnl::memory::desc({N, K}, dt::s8, dims_t{1, N});
  const int src = b.in_layout(q.src, pd.src_desc());
  const int dst = finish_fusion(b, f, n, out, pd.dst_desc());
  auto step = step_for(b, n, pd, f.what);
  step->why = fmt::format("int8: {} on the quantized data, scales per channel", pd.impl_info_str());
  step->arg(DNNL_ARG_SRC, src, pd.src_desc());
  step->arg(DNNL_ARG_DST, dst, pd.dst_desc());
  add_fusion_args(*step, f);
  step->fixed(DNNL_ARG_WEIGHTS, b.constant_weights(*q.weights, 1.0, w_onnx, pd.weights_desc()));
  if (q.bias) step->fixed(DNNL_ARG_BIAS, b.constant_weights(*q.bias, 1.0, bias_md, bias_md));
  add_int8_args(b, *step, q);
  b.add_step(std::move(step));
  return true;
}

bool build_gemm(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
  if (Int8Conv q; int8_conv_inputs(b, n, ctx, &q)) {
    try {
      if (gemm_int8(b, n, ctx, q, plan_fusion(b, n, ctx.outputs()[0].dims, false))) return true;
    } catch (const dnnl::error&) {
      // no int8 kernel for this case: the float32 Gemm on the dequantized data
    }
  }
  if (b.slot_of(n.input(0)) < 0 && b.materialize(n.input(0)) < 0) return false;  // a deferred DequantizeLinear
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
  if (build_gemm_in_place(b, n, ctx, c, f)) return true;
  // One or two rows: a matrix-vector product, bound by reading the weights.
  // oneDNN's gemm on plain [N, K] weights reads them faster than its brgemm
  // on the blocked layout 'any' picks (vgg11_bn's 25088x4096 classifier at
  // batch 1: 17.3 -> 14.8 ms); with more rows the blocked layout wins (batch
  // 8: 27.6 vs 53.0 ms for its three Gemms).
  const auto w_tag = M <= 2 ? dnnl::memory::format_tag::ab : dnnl::memory::format_tag::any;
  const auto dt = b.compute_type();
  const dnnl::memory::desc w_any({N, K}, dt, w_tag);
  const dnnl::memory::desc bias_md = plain_md({N});
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  using IP = dnnl::inner_product_forward;
  const IP::desc d = c ? IP::desc(prop_kind::forward_inference, any_md({M, K}, dt), w_any, bias_md, any_md(out, b.output_type(f.result)))
                       : IP::desc(prop_kind::forward_inference, any_md({M, K}, dt), w_any, any_md(out, b.output_type(f.result)));
  dnnl::inner_product_forward::primitive_desc pd(d, attr, dnnl_engine());

  // alpha goes into the weights, beta into the bias ([N] or [1, N]: the same bytes), once.
  const double alpha = n.attr_float("alpha"), beta = n.attr_float("beta");

  const dnnl::memory::desc w_onnx = trans_b ? plain_md({N, K})  // B is [N, K]
                                            : dnnl::memory::desc({N, K}, dnnl::memory::data_type::f32, dims_t{1, N});
  const int src = b.in_layout(input_slot(b, n, 0), pd.src_desc());
  const int dst = finish_fusion(b, f, n, out, pd.dst_desc());
  auto step = step_for(b, n, pd, f.what);
  step->arg(DNNL_ARG_SRC, src, pd.src_desc());
  step->arg(DNNL_ARG_DST, dst, pd.dst_desc());
  add_fusion_args(*step, f);
  step->fixed(DNNL_ARG_WEIGHTS, b.constant_weights(*ctx.input(1).value, alpha, w_onnx, pd.weights_desc()));
  if (c) {
    step->fixed(DNNL_ARG_BIAS, b.constant_weights(*c, beta, bias_md, bias_md));
  }
  b.add_step(std::move(step));
  return true;
}

bool build_matmul(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
  if (Int8Conv q; int8_conv_inputs(b, n, ctx, &q)) {
    const auto& a = ctx.dims(0);
    // Fused as the [M, N] product it is: a bias over the last axis is then per column (axis 1).
    const std::vector<int64_t> flat = {product(a, 0, a.size() - 1), ctx.dims(1)[1]};
    try {
      if (matmul_int8(b, n, ctx, q, plan_fusion(b, n, flat, false))) return true;
    } catch (const dnnl::error&) {
      // no int8 kernel for this case: the float32 MatMul on the dequantized data
    }
  }
  if (b.slot_of(n.input(0)) < 0 && b.materialize(n.input(0)) < 0) return false;  // a deferred DequantizeLinear
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
  // With A's batch dims folded, a constant over the last axis (a Linear's
  // bias) is per column of the [M, N] product: a binary post-op. A constant
  // over other axes too (attention scores' position bias, [1, heads, T, T])
  // is fused where oneDNN offers a fast kernel for it, else added apart.
  Fusion f = plan_fusion(b, n, od, false, true);
  // Under bf16: bf16 operands and output, row-major as in float32.
  const auto dt = b.compute_type();
  // Constant weights in the layout oneDNN prefers, packed once when the plan
  // is built (vit_b_32's 60 MatMuls at batch 8: 249 -> 176 ms), unless they
  // are so large that a copy would matter more (as for Gemm above).
  constexpr uint64_t kLargeWeights = 64u << 20;
  const bool pack = const_b && ctx.input(1).value->nbytes() < kLargeWeights;
  const auto a_md = plain_md(ad, dt);
  const auto w_md = pack ? dnnl::memory::desc(wd, dt, dnnl::memory::format_tag::any) : plain_md(wd, dt);
  const auto offer = [&](const Fusion& fu) {
    dnnl::primitive_attr attr = scratch_attr();
    attr.set_post_ops(fu.ops);
    return make_offer<dnnl::matmul>(dnnl::matmul::desc(a_md, w_md, plain_md(od, b.output_type(fu.result))), attr);
  };
  Offer pd;
  std::string why;
  if (f.wide_binary) {
    try {
      pd = offer(f);
      if (!seek_impl(*pd, [](const dnnl::primitive_desc& p) { return optimized(impl_kind(p.impl_info_str())); }))
        pd.reset();
    } catch (const dnnl::error&) {
      pd.reset();
    }
    why = pd ? fmt::format("{} fused: oneDNN offers {}", f.what, pd->impl_info_str())
             : fmt::format("{} not fused: oneDNN offers only its reference kernel with it", f.what);
    if (!pd) f = plan_fusion(b, n, od, false);
  }
  if (!pd) pd = offer(f);
  const auto o_md = plain_md(od, b.output_type(f.result));
  const int src = b.in_layout(input_slot(b, n, 0), plain_md(a, dt));
  const int dst = finish_fusion(b, f, n, out, plain_md(out, b.output_type(f.result)));
  auto step = step_for(b, n, *pd, f.what);
  step->why = why;
  step->arg(DNNL_ARG_SRC, src, a_md);
  step->arg(DNNL_ARG_DST, dst, o_md);
  add_fusion_args(*step, f);
  if (const_b) {
    step->fixed(DNNL_ARG_WEIGHTS, b.constant_weights(*ctx.input(1).value, 1.0, plain_md(wd), pd->weights_desc()));
  } else {
    step->arg(DNNL_ARG_WEIGHTS, b.in_layout(input_slot(b, n, 1), plain_md(w, dt)), w_md);
  }
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
