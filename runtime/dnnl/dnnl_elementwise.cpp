// oneDNN steps for element-wise functions and broadcasting binary ops.
#include "runtime/dnnl/dnnl_builders.hpp"
#include "ops/op_util.hpp"

namespace bnfold::rt {

using dnnl::algorithm;
using dnnl::prop_kind;

// One eltwise primitive for the node; a second algorithm (HardSigmoid's clip)
// and what follows (post-ops) are fused into it. A gated activation whose
// gate this node is (x * Sigmoid(x)) becomes one swish/hardswish step that
// computes the Mul's output.
bool build_eltwise(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx) {
  const int s = input_slot(b, n, 0);
  const auto md = b.layout(s);
  std::vector<EltwiseAlg> algs;
  const Node* last = &n;  // the node whose output the step computes before post-ops
  std::string what;
  if (const GatedActivation g = gated_activation(b, n.input(0)); g.gate == &n) {
    algs = {{g.alg, 1.0f, 0.0f}};
    last = g.mul;
    what = g.alg == algorithm::eltwise_swish ? " as SiLU" : " as HardSwish";
  } else {
    algs = eltwise_algs(e, n, b);
  }
  if (algs.empty()) return false;
  const Fusion f = plan_fusion(b, *last, ctx.dims(0), false);
  dnnl::post_ops ops;
  for (size_t i = 1; i < algs.size(); ++i) ops.append_eltwise(1.0f, algs[i].alg, algs[i].alpha, algs[i].beta);
  // The fusion's own post-ops follow (their binary-argument indices shift by what came first).
  const int shift = ops.len();
  for (int i = 0; i < f.ops.len(); ++i) {
    if (f.ops.kind(i) == dnnl::primitive::kind::eltwise) {
      float scale, alpha, beta;
      algorithm alg;
      f.ops.get_params_eltwise(i, scale, alg, alpha, beta);
      ops.append_eltwise(scale, alg, alpha, beta);
    } else {
      algorithm alg;
      dnnl::memory::desc src1;
      f.ops.get_params_binary(i, alg, src1);
      ops.append_binary(alg, src1);
    }
  }
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(ops);
  dnnl::eltwise_forward::desc d(prop_kind::forward_inference, algs[0].alg, md, algs[0].alpha, algs[0].beta);
  dnnl::eltwise_forward::primitive_desc pd(d, attr, dnnl_engine());
  if (last != &n) b.absorb(last);  // the Mul; the gate's own output is never materialized
  const int dst = finish_fusion(b, f, *last, ctx.dims(0), md);
  auto step = step_for(b, n, pd, what + f.what);
  step->arg(DNNL_ARG_SRC, s, md);
  step->arg(DNNL_ARG_DST, dst, md);
  for (const auto& a : f.binary_args)
    step->fixed(DNNL_ARG_ATTR_MULTIPLE_POST_OP(a.index + shift) | DNNL_ARG_SRC_1,
                dnnl::memory(a.md, dnnl_engine(), const_cast<void*>(a.data->data())));
  b.add_step(std::move(step));
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

}  // namespace bnfold::rt
