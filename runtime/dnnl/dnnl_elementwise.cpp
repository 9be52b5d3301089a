// oneDNN steps for element-wise functions and broadcasting binary ops.
#include "runtime/dnnl/dnnl_builders.hpp"
#include "ops/op_util.hpp"

namespace bnfold::rt {

using dnnl::algorithm;
using dnnl::prop_kind;

// An eltwise primitive per algorithm of the node (HardSigmoid: linear, then
// clip in place). oneDNN 2.6's jit eltwise takes no post-ops (with them it
// picks ref:any), so nothing else is fused here. A gated activation whose
// gate this node is (x * Sigmoid(x)) becomes one swish/hardswish step that
// computes the Mul's output.
bool build_eltwise(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx) {
  int src = input_slot(b, n, 0);
  const auto md = b.layout(src);
  std::vector<EltwiseAlg> algs;
  const Node* last = &n;  // the node whose output the steps compute
  std::string what;
  if (const GatedActivation g = gated_activation(b, n.input(0)); g.gate == &n) {
    algs = {{g.alg, 1.0f, 0.0f}};
    last = g.mul;
    what = g.alg == algorithm::eltwise_swish ? " as SiLU" : " as HardSwish";
  } else {
    algs = eltwise_algs(e, n, b);
  }
  if (algs.empty()) return false;
  std::vector<dnnl::eltwise_forward::primitive_desc> pds;
  for (const EltwiseAlg& a : algs)
    pds.emplace_back(dnnl::eltwise_forward::desc(prop_kind::forward_inference, a.alg, md, a.alpha, a.beta),
                     scratch_attr(), dnnl_engine());
  if (last != &n) b.absorb(last);  // the Mul; the gate's own output is never materialized
  const int dst = b.define(last->output(0), DType::Float32, ctx.dims(0), &md);
  for (const auto& pd : pds) {
    auto step = step_for(b, n, pd, what);
    step->arg(DNNL_ARG_SRC, src, md);
    step->arg(DNNL_ARG_DST, dst, md);
    b.add_step(std::move(step));
    src = dst;  // the next algorithm works in place
  }
  return true;
}

bool build_binary(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx) {
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
    if (!commutative || ctx.dims(1) != out) return false;  // only src1 may broadcast
    std::swap(i0, i1);
  }
  const int s0 = input_slot(b, n, i0), s1 = input_slot(b, n, i1);
  const auto md0 = b.layout(s0);
  // src1: src0's layout when it has the same dims, else src0's format at
  // src0's rank (size-1 dims broadcast): oneDNN's jit binary wants the two
  // alike (a plain [N,C,1,1] against a blocked [N,C,H,W] is its ref path).
  const bool same = ctx.dims(i1) == out;
  const auto md1 = same ? md0 : same_format_md(md0, with_rank(ctx.dims(i1), out.size()));
  const Fusion f = plan_fusion(b, n, out, false);
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  dnnl::binary::desc d(alg, md0, md1, md0);
  dnnl::binary::primitive_desc pd(d, attr, dnnl_engine());
  const int dst = finish_fusion(b, f, n, out, md0);
  auto step = step_for(b, n, pd, f.what);
  step->arg(DNNL_ARG_SRC_0, s0, md0);
  step->arg(DNNL_ARG_DST, dst, md0);
  const std::vector<int64_t> dims1 = with_rank(ctx.dims(i1), out.size());
  if (const Tensor* k = b.slot(s1).constant) {  // reordered once, now
    const Tensor* f32 = k->dtype() == DType::Float32 ? k : b.own(to_float32(*k));
    step->fixed(DNNL_ARG_SRC_1, reordered_constant(*f32, plain_md(dims1), md1));
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
