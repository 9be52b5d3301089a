// oneDNN steps for element-wise functions and broadcasting binary ops.
#include "runtime/dnnl/dnnl_builders.hpp"
#include "runtime/dnnl/impl_choice.hpp"
#include "ops/op_util.hpp"

#include <algorithm>

namespace bnfold::rt {

using dnnl::algorithm;
using dnnl::prop_kind;

// An eltwise primitive per algorithm of the node (HardSigmoid: linear, then
// clip in place). oneDNN 2.6's jit eltwise takes no post-ops (with them it
// picks ref:any), so nothing else is fused here. A gated activation whose
// gate this node is (x * Sigmoid(x)) becomes one swish/hardswish step that
// computes the Mul's output; a GELU, one gelu_erf step from its first node.
namespace {

// Steps computing `algs` on slot src (of dims) into the output of `last`
// (n itself, or the last node of the gated activation n starts, whose other
// nodes are absorbed: their values are never materialized).
bool eltwise_steps(PlanBuilder& b, const Node& n, int src, const std::vector<int64_t>& dims,
                   const std::vector<EltwiseAlg>& algs, const GatedActivation* g, const std::string& what) {
  if (algs.empty()) return false;
  const auto md = b.layout(src);
  std::vector<dnnl::eltwise_forward::primitive_desc> pds;
  for (const EltwiseAlg& a : algs)
    pds.emplace_back(dnnl::eltwise_forward::desc(prop_kind::forward_inference, a.alg, md, a.alpha, a.beta),
                     scratch_attr(), dnnl_engine());
  const Node* last = g ? g->mul : &n;
  if (g)
    for (const Node* m : g->nodes)
      if (m != &n) b.absorb(m);
  const int dst = b.define(last->output(0), DType::Float32, dims, &md);
  for (const auto& pd : pds) {
    auto step = step_for(b, n, pd, what);
    step->arg(DNNL_ARG_SRC, src, md);
    step->arg(DNNL_ARG_DST, dst, md);
    b.add_step(std::move(step));
    src = dst;  // the next algorithm works in place
  }
  return true;
}

}  // namespace

bool build_eltwise(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx) {
  const int src = input_slot(b, n, 0);
  if (const GatedActivation g = gated_activation(b, n.input(0)); g.gate == &n)
    return eltwise_steps(b, n, src, ctx.dims(0), {{g.alg, 1.0f, 0.0f}}, &g, std::string(" as ") + g.name);
  return eltwise_steps(b, n, src, ctx.dims(0), eltwise_algs(e, n, b), nullptr, "");
}

bool build_binary(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx) {
  // The first node of a GELU the plan meets (x / sqrt 2, or x * 0.5) computes it whole.
  for (size_t k = 0; k < n.inputs().size(); ++k) {
    const GatedActivation g = gated_activation(b, n.input(k));
    if (g.alg == algorithm::eltwise_gelu_erf && std::find(g.nodes.begin(), g.nodes.end(), &n) != g.nodes.end())
      return eltwise_steps(b, n, input_slot(b, n, k), ctx.dims(k), {{g.alg, 1.0f, 0.0f}}, &g,
                           std::string(" as ") + g.name);
  }
  algorithm alg;
  bool commutative = true;
  switch (e.as<BinaryOp>()) {
    case BinaryOp::Add:
    case BinaryOp::Sum: alg = algorithm::binary_add; break;
    case BinaryOp::Mul: alg = algorithm::binary_mul; break;
    case BinaryOp::Max: alg = algorithm::binary_max; break;
    case BinaryOp::Min: alg = algorithm::binary_min; break;
    case BinaryOp::Sub: alg = algorithm::binary_sub, commutative = false; break;
    case BinaryOp::Div: alg = algorithm::binary_div, commutative = false; break;
    default: return false;
  }
  if (ctx.num_inputs() != 2) return false;
  const auto& out = ctx.outputs()[0].dims;
  size_t i0 = 0, i1 = 1;
  if (ctx.dims(0) != out) {
    if (ctx.dims(1) != out) return false;  // both broadcast: the reference kernel
    if (!commutative) return build_broadcast_binary(b, n, e.as<BinaryOp>(), 1, ctx);  // oneDNN's src1 only may
    std::swap(i0, i1);
  }
  int s0 = input_slot(b, n, i0);
  const int s1 = input_slot(b, n, i1);
  auto md0 = b.layout(s0);
  // src1: src0's layout when it has the same dims, else src0's format at
  // src0's rank (size-1 dims broadcast): oneDNN's jit binary wants the two
  // alike (a plain [N,C,1,1] against a blocked [N,C,H,W] is its ref path).
  const bool same = ctx.dims(i1) == out;
  const std::vector<int64_t> dims1 = with_rank(ctx.dims(i1), out.size());
  auto md1 = same ? md0 : same_format_md(md0, dims1);
  const Fusion f = plan_fusion(b, n, out, false);
  // A constant that repeats only over leading dims ([1, T, C] added to
  // [N, T, C]: a position embedding) as [N, T*C] and [1, T*C] on plain src0
  // (reordered to it if need be): jit's per-row broadcast, where the rank-3
  // form is oneDNN 2.6's reference kernel (5.7 ms of vit_b_32's 78 at batch 8).
  size_t lead = 0;
  while (lead < out.size() && dims1[lead] == 1) ++lead;
  const bool rows = !same && lead > 0 && lead < out.size() && f.binary_args.empty() && b.slot(s1).constant &&
                    std::equal(dims1.begin() + static_cast<std::ptrdiff_t>(lead), dims1.end(),
                               out.begin() + static_cast<std::ptrdiff_t>(lead));
  if (rows && md0 != plain_md(out, md0.data_type())) {
    md0 = plain_md(out, md0.data_type());
    s0 = b.in_layout(s0, md0);
  }
  auto view0 = md0;
  if (rows) {
    const int64_t inner = product(out, lead, out.size());
    view0 = plain_md({product(out, 0, lead), inner}, md0.data_type());
    md1 = plain_md({1, inner}, md0.data_type());
  }
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  dnnl::binary::desc d(alg, view0, md1, view0);
  dnnl::binary::primitive_desc pd(d, attr, dnnl_engine());
  if (!optimized(impl_kind(pd.impl_info_str())) && build_broadcast_binary(b, n, e.as<BinaryOp>(), i0, ctx))
    return true;  // a broadcast oneDNN's jit kernel does not take
  const int dst = finish_fusion(b, f, n, out, md0);
  auto step = step_for(b, n, pd, f.what);
  step->arg(DNNL_ARG_SRC_0, s0, view0);
  step->arg(DNNL_ARG_DST, dst, view0);
  if (const Tensor* k = b.slot(s1).constant) {  // reordered once, now
    const Tensor* f32 = k->dtype() == DType::Float32 ? k : b.own(to_float32(*k));
    step->fixed(DNNL_ARG_SRC_1, reordered_constant(*f32, rows ? plain_md(md1.dims()) : plain_md(dims1), md1));
  } else {
    int src1 = s1;
    if (ctx.dims(i1).size() != out.size()) src1 = b.view(nullptr, b.in_layout(s1, plain_md(ctx.dims(i1))), dims1);
    step->arg(DNNL_ARG_SRC_1, b.in_layout(src1, md1), md1);
  }
  add_fusion_args(*step, f);
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
