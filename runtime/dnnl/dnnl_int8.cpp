#include "runtime/dnnl/dnnl_int8.hpp"

#include <cmath>

#include "ops/op_util.hpp"
#include "runtime/dnnl/impl_choice.hpp"

namespace bnfold::rt {

namespace {

// A Q/DQ node's one constant scale and zero point.
struct PerTensor {
  float scale = 1;
  int32_t zero_point = 0;
};

bool per_tensor(const Node& n, PerTensor* p) {
  if (n.inputs().size() < 2 || !n.input(1) || !n.input(1)->has_data()) return false;
  const Tensor& s = n.input(1)->data();
  if (s.numel() != 1 || s.dtype() != DType::Float32) return false;
  p->scale = static_cast<float>(s.value_at(0));
  if (!(p->scale > 0) || !std::isfinite(p->scale)) return false;
  const Value* z = n.inputs().size() > 2 ? n.input(2) : nullptr;
  if (z && (!z->has_data() || z->data().numel() != 1)) return false;
  p->zero_point = z ? static_cast<int32_t>(z->data().value_at(0)) : 0;
  return true;
}

// md's layout with another data type.
dnnl::memory::desc retyped(const dnnl::memory::desc& md, dnnl::memory::data_type dt) {
  dnnl_memory_desc_t d = md.data;
  d.data_type = dnnl::memory::convert_to_c(dt);
  return dnnl::memory::desc(d);
}

// A one-element int32 memory: a zero point passed at execution (oneDNN 2.6
// takes zero points of convolutions and reorders as runtime arguments).
dnnl::memory zero_point_memory(PlanBuilder& b, int32_t zp) {
  Tensor t(DType::Int32, {1});
  t.mutable_data_as<int32_t>()[0] = zp;
  const Tensor* kept = b.own(std::move(t));
  return dnnl::memory(plain_md({1}, dnnl::memory::data_type::s32), dnnl_engine(), const_cast<void*>(kept->data()));
}

// A reorder of slot s into `dst_md` with scale and zero point (on the
// destination when quantizing, on the source when dequantizing); the new slot.
bool scaled_reorder(PlanBuilder& b, const Node& n, int s, const dnnl::memory::desc& dst_md, DType dtype, float scale,
                    int zp_arg, int32_t zp, const std::vector<int64_t>& dims) {
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_output_scales(0, {scale});
  if (zp != 0) attr.set_zero_points(zp_arg, 0, {DNNL_RUNTIME_S32_VAL});
  const dnnl::memory::desc src_md = b.layout(s);
  const dnnl::reorder::primitive_desc pd(dnnl_engine(), src_md, dnnl_engine(), dst_md, attr);
  if (!optimized(impl_kind(pd.impl_info_str()))) return false;
  const int dst = b.define(n.output(0), dtype, dims, &dst_md);
  auto step = step_for(b, n, pd);
  step->arg(DNNL_ARG_FROM, s, src_md);
  step->arg(DNNL_ARG_TO, dst, dst_md);
  if (zp != 0) step->fixed(DNNL_ARG_ATTR_ZERO_POINTS | zp_arg, zero_point_memory(b, zp));
  b.add_step(std::move(step));
  return true;
}

}  // namespace

bool build_quantize(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
  PerTensor p;
  const DType out = ctx.outputs()[0].dtype;
  if (!per_tensor(n, &p) || ctx.dtype(0) != DType::Float32 || (out != DType::UInt8 && out != DType::Int8)) return false;
  const int s = input_slot(b, n, 0);
  const auto dt = out == DType::UInt8 ? dnnl::memory::data_type::u8 : dnnl::memory::data_type::s8;
  // In the input's own layout: the int8 convolution after it reorders once if it wants another.
  return scaled_reorder(b, n, s, retyped(b.layout(s), dt), out, 1.0f / p.scale, DNNL_ARG_DST, p.zero_point,
                        ctx.dims(0));
}

// Whether Conv c will read its data as int8 (int8_conv_inputs' test on the graph alone, before c is built).
bool int8_conv_candidate(const Node& c, const Value* data) {
  const std::string& op = c.op_type();
  if ((op != "Conv" && op != "Gemm" && op != "MatMul") || c.inputs().size() < 2 || c.input(0) != data || !c.input(1))
    return false;
  const Node* dw = c.input(1)->producer();
  if (!dw || dw->op_type() != "DequantizeLinear" || dw->inputs().size() < 2) return false;
  for (const Value* v : dw->inputs())
    if (v && !v->has_data()) return false;
  if (dw->input(0)->data().dtype() != DType::Int8 || dw->input(1)->data().dtype() != DType::Float32) return false;
  if (op == "MatMul" && dw->input(0)->data().rank() != 2) return false;  // constant [K, N] weights only
  const Value* bias = c.inputs().size() > 2 ? c.input(2) : nullptr;
  if (bias && !bias->has_data()) {  // computed from constants when the plan is built (a DequantizeLinear of int32)
    const Node* p = bias->producer();
    if (!p) return false;
    for (const Value* v : p->inputs())
      if (v && !v->has_data()) return false;
  }
  return true;
}

bool build_dequantize(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
  PerTensor p;
  const DType in = ctx.dtype(0);
  if (!per_tensor(n, &p) || (in != DType::UInt8 && in != DType::Int8) || ctx.input(0).value) return false;
  // Read only by int8 convolutions, which take the quantized data itself: not computed unless one falls back.
  const Value* y = n.output(0);
  bool int8_readers = exact_int8_cpu() && b.may_defer(&n) && !y->is_graph_output() && !y->uses().empty() &&
                      !b.tapped(y);
  for (const Use& u : y->uses()) int8_readers = int8_readers && int8_conv_candidate(*u.node, y);
  if (int8_readers) {
    b.defer(&n);
    return true;
  }
  const int s = input_slot(b, n, 0);
  return scaled_reorder(b, n, s, retyped(b.layout(s), dnnl::memory::data_type::f32), DType::Float32, p.scale,
                        DNNL_ARG_SRC, p.zero_point, ctx.dims(0));
}

bool exact_int8_cpu() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto has = [isa](dnnl::cpu_isa i) { return (isa & static_cast<unsigned>(i)) == static_cast<unsigned>(i); };
  return has(dnnl::cpu_isa::avx512_core_vnni) || has(dnnl::cpu_isa::avx2_vnni);
}

bool int8_conv_inputs(PlanBuilder& b, const Node& n, const InferContext& ctx, Int8Conv* q) {
  if (!exact_int8_cpu()) return false;
  int64_t axis = 0;  // of the weights' output channels
  if (n.op_type() == "Gemm") {
    if (n.attr_int("transA") != 0 || n.attr_float("alpha") != 1.0f || ctx.dims(1).size() != 2) return false;
    axis = n.attr_int("transB") != 0 ? 0 : 1;
  } else if (n.op_type() == "MatMul") {
    if (ctx.dims(0).size() < 2 || ctx.dims(1).size() != 2) return false;  // [..., M, K] x [K, N]
    axis = 1;
  }
  const Node* dx = n.input(0) ? n.input(0)->producer() : nullptr;
  const Node* dw = n.input(1) ? n.input(1)->producer() : nullptr;
  PerTensor x;
  if (!dx || !dw || dx->op_type() != "DequantizeLinear" || dw->op_type() != "DequantizeLinear" || !per_tensor(*dx, &x))
    return false;
  const Value* xq = dx->input(0);
  const int src = xq ? b.slot_of(xq) : -1;
  if (src < 0 || b.slot(src).constant || (b.slot(src).dtype != DType::UInt8 && b.slot(src).dtype != DType::Int8))
    return false;
  // Weights: int8 constants, one scale per output channel (or one), zero points 0.
  const Value* wq = dw->input(0);
  const Value* ws = dw->inputs().size() > 1 ? dw->input(1) : nullptr;
  const Value* wz = dw->inputs().size() > 2 ? dw->input(2) : nullptr;
  if (!wq || !wq->has_data() || wq->data().dtype() != DType::Int8 || wq->data().dims() != ctx.dims(1)) return false;
  if (!ws || !ws->has_data() || ws->data().dtype() != DType::Float32) return false;
  const int64_t m = ctx.dims(1)[static_cast<size_t>(axis)];
  const int64_t count = ws->data().numel();
  int64_t dq_axis = dw->attr_int("axis");
  if (dq_axis < 0) dq_axis += static_cast<int64_t>(ctx.dims(1).size());
  if (count != 1 && (count != m || dq_axis != axis)) return false;
  if (wz && (!wz->has_data() || wz->data().numel() != count)) return false;
  for (int64_t i = 0; wz && i < count; ++i)
    if (wz->data().value_at(i) != 0) return false;
  q->src = src;
  q->src_type = b.slot(src).dtype == DType::UInt8 ? dnnl::memory::data_type::u8 : dnnl::memory::data_type::s8;
  q->zero_point = x.zero_point;
  q->weights = &wq->data();
  q->scales.resize(static_cast<size_t>(m));
  for (int64_t c = 0; c < m; ++c)
    q->scales[static_cast<size_t>(c)] = x.scale * static_cast<float>(ws->data().value_at(count == 1 ? 0 : c));
  q->bias = nullptr;
  if (ctx.has_input(2)) {
    const Tensor* bias = ctx.input(2).value;
    if (!bias || bias->numel() != m) return false;  // Gemm: a per-column C only
    const double beta = n.op_type() == "Gemm" ? n.attr_float("beta") : 1.0;
    Tensor scaled(DType::Float32, {m});
    for (int64_t c = 0; c < m; ++c)
      scaled.mutable_data_as<float>()[c] =
          static_cast<float>(beta * bias->value_at(c) / q->scales[static_cast<size_t>(c)]);
    q->bias = b.own(std::move(scaled));
  }
  return true;
}

Requantize requantize_after(const PlanBuilder& b, const Fusion& f) {
  Requantize r;
  const Node* c = b.sole_consumer(f.result);
  PerTensor p;
  if (!c || c->op_type() != "QuantizeLinear" || !per_tensor(*c, &p) || f.residual >= 0 || !f.binary_args.empty() ||
      b.tapped(f.result))
    return {};
  const Value* z = c->inputs().size() > 2 ? c->input(2) : nullptr;
  r.dtype = z ? z->data().dtype() : DType::UInt8;
  if (r.dtype != DType::UInt8 && r.dtype != DType::Int8) return {};
  // The post-ops run on the scaled sums: in units of the output's step, so bounds divide by it.
  for (int i = 0; i < f.ops.len(); ++i) {
    if (f.ops.kind(i) != dnnl::primitive::kind::eltwise) return {};
    float scale, alpha, beta;
    dnnl::algorithm alg;
    f.ops.get_params_eltwise(i, scale, alg, alpha, beta);
    if (alg == dnnl::algorithm::eltwise_clip || alg == dnnl::algorithm::eltwise_clip_v2) {
      alpha /= p.scale;
      beta /= p.scale;
    } else if (alg == dnnl::algorithm::eltwise_bounded_relu) {
      alpha /= p.scale;
    } else if (alg != dnnl::algorithm::eltwise_relu) {  // relu(x; slope) is positively homogeneous
      return {};
    }
    r.ops.append_eltwise(scale, alg, alpha, beta);
  }
  r.node = c;
  r.scale = p.scale;
  r.zero_point = p.zero_point;
  return r;
}

void add_int8_attr(dnnl::primitive_attr& attr, const Int8Conv& q, const Requantize* r) {
  std::vector<float> scales = q.scales;
  if (r) {
    for (float& s : scales) s /= r->scale;
    attr.set_post_ops(r->ops);
    if (r->zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  }
  attr.set_output_scales(1 << 1, scales);  // per channel of dst {N, C, ...}
  if (q.zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
}

void add_int8_args(PlanBuilder& b, DnnlStep& step, const Int8Conv& q, const Requantize* r) {
  if (q.zero_point != 0) step.fixed(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zero_point_memory(b, q.zero_point));
  if (r && r->zero_point != 0)
    step.fixed(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, zero_point_memory(b, r->zero_point));
}

}  // namespace bnfold::rt
