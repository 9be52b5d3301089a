// oneDNN steps for Gemm (inner product: alpha and beta folded into the
// weights and bias once) and MatMul, with fused post-ops.
#include "runtime/dnnl/dnnl_builders.hpp"
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

bool build_gemm(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
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
  // Under bf16: bf16 operands and output, row-major as in float32.
  const auto dt = b.compute_type();
  const auto a_md = plain_md(ad, dt), w_md = plain_md(wd, dt), o_md = plain_md(od, b.output_type(f.result));
  dnnl::matmul::desc d(a_md, w_md, o_md);
  dnnl::matmul::primitive_desc pd(d, attr, dnnl_engine());
  const int src = b.in_layout(input_slot(b, n, 0), plain_md(a, dt));
  const int dst = finish_fusion(b, f, n, out, plain_md(out, b.output_type(f.result)));
  auto step = step_for(b, n, pd, f.what);
  step->arg(DNNL_ARG_SRC, src, a_md);
  step->arg(DNNL_ARG_DST, dst, o_md);
  add_fusion_args(*step, f);
  if (const_b) {
    step->fixed(DNNL_ARG_WEIGHTS, b.constant_weights(*ctx.input(1).value, 1.0, plain_md(wd), w_md));
  } else {
    step->arg(DNNL_ARG_WEIGHTS, b.in_layout(input_slot(b, n, 1), plain_md(w, dt)), w_md);
  }
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
