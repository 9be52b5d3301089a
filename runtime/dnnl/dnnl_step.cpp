#include "runtime/dnnl/dnnl_step.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "ops/op_util.hpp"

namespace bnfold::rt {

std::unique_ptr<DnnlStep> step_for(PlanBuilder& b, const Node& n, const dnnl::primitive_desc_base& pd,
                                   const std::string& extra) {
  auto s = std::make_unique<DnnlStep>(b, pd, n.op_type() + " (oneDNN)" + extra);
  s->node = &n;
  return s;
}

std::vector<int64_t> with_rank(const std::vector<int64_t>& d, size_t rank) {
  std::vector<int64_t> out(rank - d.size(), 1);
  out.insert(out.end(), d.begin(), d.end());
  return out;
}

dnnl::primitive_attr scratch_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

DnnlStep::DnnlStep(PlanBuilder& b, const dnnl::primitive_desc_base& pd, std::string what, StepKind kind)
    : prim_(pd.get()), what_(std::move(what)), kind_(kind), impl_(pd.impl_info_str()) {
  const dnnl::memory::desc scratch = pd.scratchpad_desc();
  if (scratch.get_size() > 0) {
    const int s = b.define(nullptr, DType::UInt8, {static_cast<int64_t>(scratch.get_size())}, nullptr);
    arg(DNNL_ARG_SCRATCHPAD, s, scratch);
  }
}

void DnnlStep::arg(int dnnl_arg, int slot, const dnnl::memory::desc& md) {
  args_.push_back({dnnl_arg, slot, md});
  // Written slots (the scratchpad too: it must get arena space for this step).
  if (dnnl_arg == DNNL_ARG_DST || dnnl_arg == DNNL_ARG_TO || dnnl_arg == DNNL_ARG_SCRATCHPAD) out.push_back(slot);
  else in.push_back(slot);
}

namespace {

// A step's oneDNN arguments bound to one arena's addresses, made on the
// arena's first run and reused: creating memory objects every run costs
// microseconds a step, which small networks feel.
struct BoundArgs {
  struct SlotArg {
    dnnl::memory* memory;
    size_t slot;
    // A written layout with a padded area (channels not a multiple of the
    // block): oneDNN expects zeros there, and the arena's bytes held other
    // tensors earlier in the run. Setting the handle zeroes it, as creating
    // the memory did.
    bool rezero;
  };
  std::unordered_map<int, dnnl::memory> args;
  std::vector<SlotArg> slots;
};

bool has_padding(const dnnl::memory::desc& md) {
  for (int i = 0; i < md.data.ndims; ++i)
    if (md.data.padded_dims[i] != md.data.dims[i]) return true;
  return false;
}

bool written(int dnnl_arg) { return dnnl_arg == DNNL_ARG_DST || dnnl_arg == DNNL_ARG_TO; }

}  // namespace

void DnnlStep::run(RunState& state) const {
  std::shared_ptr<void>& entry = (*state.cache)[state.step];
  if (!entry) {
    auto bound = std::make_shared<BoundArgs>();
    for (const Arg& a : args_)
      bound->args.emplace(a.dnnl_arg, dnnl::memory(a.md, dnnl_engine(), state.ptr[static_cast<size_t>(a.slot)]));
    for (const auto& [k, mem] : fixed_) bound->args.emplace(k, mem);
    for (const Arg& a : args_)
      bound->slots.push_back({&bound->args.at(a.dnnl_arg), static_cast<size_t>(a.slot),
                              written(a.dnnl_arg) && has_padding(a.md)});
    entry = bound;
    prim_.execute(*state.stream, bound->args);
    return;
  }
  auto& bound = *static_cast<BoundArgs*>(entry.get());
  // Run inputs (and views of them) come at other addresses every run.
  for (const auto& a : bound.slots)
    if (a.rezero || a.memory->get_data_handle() != state.ptr[a.slot]) a.memory->set_data_handle(state.ptr[a.slot]);
  prim_.execute(*state.stream, bound.args);
}

const Tensor* known_constant(const PlanBuilder& b, const Value* v) {
  if (!v) return nullptr;
  const int s = b.slot_of(v);
  return s >= 0 ? b.slot(s).constant : (v->is_constant() ? &v->data() : nullptr);
}

namespace {

bool constant_scalar(const PlanBuilder& b, const Node& n, size_t i, double* v) {
  const Tensor* t = known_constant(b, n.input(i));
  if (!t || t->numel() != 1) return false;
  *v = t->value_at(0);
  return true;
}

}  // namespace

std::vector<EltwiseAlg> eltwise_algs(const OpEntry& e, const Node& n, const PlanBuilder& b) {
  using A = dnnl::algorithm;
  // (Callers only ask for float32 tensors; the graph's own dtypes may be unset.)
  if (e.lowering != Lowering::Eltwise || n.inputs().empty() || !n.input(0)) return {};
  switch (e.as<UnaryOp>()) {
    case UnaryOp::Relu: return {{A::eltwise_relu, 0, 0}};
    case UnaryOp::LeakyRelu: return {{A::eltwise_relu, n.attr_float("alpha"), 0}};
    case UnaryOp::Elu: return {{A::eltwise_elu, n.attr_float("alpha"), 0}};
    case UnaryOp::Tanh: return {{A::eltwise_tanh, 0, 0}};
    case UnaryOp::Sigmoid: return {{A::eltwise_logistic, 0, 0}};
    case UnaryOp::Softplus: return {{A::eltwise_soft_relu, 0, 0}};
    case UnaryOp::HardSwish: return {{A::eltwise_hardswish, 0, 0}};
    case UnaryOp::Exp: return {{A::eltwise_exp, 0, 0}};
    case UnaryOp::Abs: return {{A::eltwise_abs, 0, 0}};
    case UnaryOp::Sqrt: return {{A::eltwise_sqrt, 0, 0}};
    case UnaryOp::HardSigmoid:  // clip(alpha * x + beta, 0, 1)
      return {{A::eltwise_linear, n.attr_float("alpha"), n.attr_float("beta")}, {A::eltwise_clip_v2, 0, 1}};
    case UnaryOp::Clip: {
      double lo = -3.4e38, hi = 3.4e38;
      if (n.graph_opset() < 11) {
        lo = n.attr_float("min");
        hi = n.attr_float("max");
      } else {
        if (n.input(1) && !constant_scalar(b, n, 1, &lo)) return {};
        if (n.input(2) && !constant_scalar(b, n, 2, &hi)) return {};
      }
      return {{A::eltwise_clip_v2, static_cast<float>(lo), static_cast<float>(hi)}};
    }
    default: return {};  // an Eltwise entry whose function oneDNN lacks
  }
}

std::vector<EltwiseAlg> eltwise_algs(const Node& n, const PlanBuilder& b) {
  const OpEntry* e = find_op(n);
  return e ? eltwise_algs(*e, n, b) : std::vector<EltwiseAlg>{};
}

bool per_channel_constant(const PlanBuilder& b, const Node& c, const Value* x, const std::vector<int64_t>& dims,
                          dnnl::algorithm* alg, const Tensor** data, std::vector<int64_t>* cdims, bool any_axes) {
  const OpEntry* e = lowered_as(c, Lowering::Binary);
  if (!e || c.inputs().size() != 2) return false;
  const BinaryOp op = e->as<BinaryOp>();
  switch (op) {
    case BinaryOp::Add: *alg = dnnl::algorithm::binary_add; break;
    case BinaryOp::Mul: *alg = dnnl::algorithm::binary_mul; break;
    case BinaryOp::Sub: *alg = dnnl::algorithm::binary_sub; break;
    case BinaryOp::Div: *alg = dnnl::algorithm::binary_div; break;
    default: return false;
  }
  const size_t other = c.input(0) == x ? 1 : 0;
  if ((op == BinaryOp::Sub || op == BinaryOp::Div) && other != 1) return false;
  const Tensor* t = known_constant(b, c.input(other));
  if (!t || t->rank() > dims.size() || dims.size() < 2) return false;
  cdims->assign(dims.size(), 1);
  for (size_t i = 0; i < t->rank(); ++i) {
    const size_t axis = dims.size() - t->rank() + i;
    const int64_t d = t->dims()[i];
    if (d == 1) continue;
    if (d != dims[axis] || (axis != 1 && !any_axes)) return false;
    (*cdims)[axis] = d;
  }
  *data = t;
  return true;
}

namespace {

// The gate of a gated activation: Sigmoid (SiLU = x * sigmoid(x)) or
// HardSigmoid with alpha 1/6, beta 1/2 (HardSwish = x * hardsigmoid(x), as
// exporters write it before opset 14).
bool gate_alg(const Node& n, dnnl::algorithm* alg) {
  const OpEntry* e = lowered_as(n, Lowering::Eltwise);
  if (!e) return false;
  if (e->as<UnaryOp>() == UnaryOp::Sigmoid) {
    *alg = dnnl::algorithm::eltwise_swish;
    return true;
  }
  if (e->as<UnaryOp>() == UnaryOp::HardSigmoid && std::fabs(n.attr_float("alpha") - 1.0 / 6) < 1e-7 &&
      n.attr_float("beta") == 0.5f) {
    *alg = dnnl::algorithm::eltwise_hardswish;
    return true;
  }
  return false;
}

bool is_add(const Node& n) {
  const OpEntry* e = lowered_as(n, Lowering::Binary);
  return e && e->as<BinaryOp>() == BinaryOp::Add;
}

}  // namespace

namespace {

bool is_mul(const Node* n) {
  const OpEntry* e = n ? lowered_as(*n, Lowering::Binary) : nullptr;
  return e && e->as<BinaryOp>() == BinaryOp::Mul && n->inputs().size() == 2;
}

// Whether n multiplies a by b (in either order).
bool multiplies(const Node* n, const Value* a, const Value* b) {
  return is_mul(n) && ((n->input(0) == a && n->input(1) == b) || (n->input(1) == a && n->input(0) == b));
}

// The scalar constant binary node n applies to x (x op c; Div and Sub only
// that way round), or NaN.
double scalar_operand(const PlanBuilder& b, const Node* n, const Value* x, BinaryOp* op) {
  const OpEntry* e = n ? lowered_as(*n, Lowering::Binary) : nullptr;
  if (!e || n->inputs().size() != 2 || (n->input(0) != x && n->input(1) != x)) return NAN;
  const size_t other = n->input(0) == x ? 1 : 0;
  *op = e->as<BinaryOp>();
  if ((*op == BinaryOp::Div || *op == BinaryOp::Sub) && other != 1) return NAN;
  const Tensor* t = known_constant(b, n->input(other));
  return t && t->numel() == 1 ? t->value_at(0) : NAN;
}

bool is_scalar_op(const PlanBuilder& b, const Node* n, const Value* x, BinaryOp want, double value) {
  BinaryOp op = BinaryOp::Add;
  const double c = scalar_operand(b, n, x, &op);
  return op == want && std::fabs(c - value) <= 1e-6 * std::fabs(value);  // exporters write float32 constants
}

GatedActivation gelu(const PlanBuilder& b, const Value* v) {
  const Node* scale = nullptr;
  const Node* other = nullptr;
  for (const Use& u : v->uses()) {
    if (is_scalar_op(b, u.node, v, BinaryOp::Div, std::sqrt(2.0)) ||
        is_scalar_op(b, u.node, v, BinaryOp::Mul, std::sqrt(0.5)))
      scale = u.node;
    else
      other = u.node;
  }
  if (!scale || !other) return {};
  const Node* erf = b.sole_consumer(scale->output(0));
  if (!erf || erf->op_type() != "Erf" || !erf->domain().empty()) return {};
  const Node* add = b.sole_consumer(erf->output(0));
  if (!is_scalar_op(b, add, erf->output(0), BinaryOp::Add, 1.0)) return {};
  const Value* p = add->output(0);
  const Node* last = nullptr;
  if (multiplies(other, v, p)) {  // (x * (1 + erf)) * 0.5
    last = b.sole_consumer(other->output(0));
    if (!is_scalar_op(b, last, other->output(0), BinaryOp::Mul, 0.5)) return {};
  } else if (is_scalar_op(b, other, v, BinaryOp::Mul, 0.5)) {  // (x * 0.5) * (1 + erf)
    last = b.sole_consumer(other->output(0));
    if (!multiplies(last, other->output(0), p)) return {};
  } else {
    return {};
  }
  if (b.sole_consumer(p) != (multiplies(other, v, p) ? other : last)) return {};
  for (const Node* n : {scale, erf, add, other})
    if (b.tapped(n->output(0))) return {};
  GatedActivation g;
  g.alg = dnnl::algorithm::eltwise_gelu_erf;
  g.gate = scale;
  g.mul = last;
  g.nodes = {scale, erf, add, other, last};
  g.name = "GELU";
  return g;
}

}  // namespace

GatedActivation gated_activation(const PlanBuilder& b, const Value* v) {
  if (!v || v->is_graph_output() || v->uses().size() != 2) return {};
  for (const Use& u : v->uses()) {
    GatedActivation g;
    if (u.input_index != 0 || !gate_alg(*u.node, &g.alg)) continue;
    const Value* gate_out = u.node->output(0);
    const Node* mul = b.sole_consumer(gate_out);
    if (!multiplies(mul, v, gate_out)) continue;
    g.gate = u.node;
    g.mul = mul;
    g.nodes = {u.node, mul};
    g.name = g.alg == dnnl::algorithm::eltwise_swish ? "SiLU" : "HardSwish";
    return g;
  }
  return gelu(b, v);
}

void add_fusion_args(DnnlStep& step, const Fusion& f) {
  for (const auto& a : f.binary_args)
    step.fixed(DNNL_ARG_ATTR_MULTIPLE_POST_OP(a.index) | DNNL_ARG_SRC_1,
               dnnl::memory(a.md, dnnl_engine(), const_cast<void*>(a.data->data())));
}

Fusion plan_fusion(PlanBuilder& b, const Node& producer, const std::vector<int64_t>& dims, bool allow_sum,
                   bool any_axes) {
  Fusion f;
  f.result = producer.output(0);
  bool anything = false;
  for (;;) {
    if (b.tapped(f.result)) break;  // measured for a folded BN: it must exist as computed
    if (const GatedActivation g = gated_activation(b, f.result); g.mul) {
      f.ops.append_eltwise(1.0f, g.alg, 1.0f, 0.0f);
      f.what += std::string(" + ") + g.name;
      anything = true;
      f.absorbed.insert(f.absorbed.end(), g.nodes.begin(), g.nodes.end());
      f.result = g.mul->output(0);
      continue;
    }
    const Node* c = b.sole_consumer(f.result);
    if (!c) break;
    dnnl::algorithm alg;
    const Tensor* data = nullptr;
    std::vector<int64_t> cdims;
    if (const auto algs = eltwise_algs(*c, b); !algs.empty()) {
      for (const auto& e : algs) f.ops.append_eltwise(1.0f, e.alg, e.alpha, e.beta);
      f.what += " + " + c->op_type();
      anything = true;
    } else if (per_channel_constant(b, *c, f.result, dims, &alg, &data, &cdims, any_axes)) {
      for (size_t a = 0; a < cdims.size(); ++a) f.wide_binary |= a != 1 && cdims[a] != 1;
      const Tensor* f32 = data->dtype() == DType::Float32 ? data : b.own(to_float32(*data));
      const dnnl::memory::desc md = plain_md(cdims);
      f.binary_args.push_back({f.ops.len(), f32, md});
      f.ops.append_binary(alg, md);
      f.what += " + " + c->op_type();
      anything = true;
    } else if (allow_sum && !anything && is_add(*c) && c->inputs().size() == 2) {
      // Residual Add: dst is prefilled with the other operand, then summed into.
      const Value* other = c->input(0) == f.result ? c->input(1) : c->input(0);
      const int s = other ? b.slot_of(other) : -1;
      // Only a same-shaped, already computed operand: oneDNN's sum does not broadcast.
      if (s < 0 || other == f.result || b.slot(s).dtype != DType::Float32 || b.slot(s).dims != dims) break;
      f.ops.append_sum(1.0f);
      f.residual = s;
      f.what += " + Add";
      anything = true;
    } else {
      break;
    }
    f.absorbed.push_back(c);
    f.result = c->output(0);
  }
  return f;
}

int finish_fusion(PlanBuilder& b, const Fusion& f, const Node& producer, const std::vector<int64_t>& dims,
                  const dnnl::memory::desc& dst_md) {
  int dst;
  bool reads_residual = false;  // x -> Conv -> Add(x): the step must not write what it reads
  for (const Value* v : producer.inputs()) reads_residual |= v && b.slot_of(v) == f.residual;
  if (f.residual >= 0 && !reads_residual && b.layout(f.residual) == dst_md && b.can_overwrite(f.residual, f.absorbed)) {
    // Nothing reads the residual after this step: the sum accumulates into its bytes.
    dst = f.residual;
    b.alias(f.result, dst);
  } else if (f.residual >= 0) {
    // The residual must have the output's dims exactly (no broadcasting in sum).
    BNFOLD_CHECK(b.slot(f.residual).dims == dims, ErrorCode::Internal, "residual dims differ");
    // Copy (reorder) the residual into a fresh dst slot: the conv adds onto it.
    const int src = f.residual;
    dst = b.define(f.result, DType::Float32, dims, &dst_md);
    const dnnl::reorder::primitive_desc pd(dnnl_engine(), b.layout(src), dnnl_engine(), dst_md, scratch_attr());
    auto copy = std::make_unique<DnnlStep>(b, pd, "residual copy", StepKind::Reorder);
    copy->arg(DNNL_ARG_FROM, src, b.layout(src));
    copy->arg(DNNL_ARG_TO, dst, dst_md);
    b.add_step(std::move(copy));
  } else {
    dst = b.define(f.result, DType::Float32, dims, &dst_md);
  }
  if (f.result != producer.output(0)) b.alias(producer.output(0), dst);
  for (const Node* n : f.absorbed) {
    b.absorb(n);
    if (n->output(0) != f.result) b.alias(n->output(0), dst);
  }
  return dst;
}

dnnl::memory constant_memory(PlanBuilder& b, const Tensor& t, const std::vector<int64_t>& dims) {
  const Tensor* f = &t;
  if (t.dtype() != DType::Float32) f = b.own(to_float32(t));
  return dnnl::memory(plain_md(dims), dnnl_engine(), const_cast<void*>(f->data()));
}

}  // namespace bnfold::rt
