#include "runtime/plan_builder.hpp"

#include <algorithm>
#include <optional>

#include "bnfold/graph/batchnorm.hpp"

#include "runtime/dnnl/dnnl_step.hpp"
#include "runtime/dnnl/dnnl_util.hpp"
#include "runtime/dnnl/weight_cache.hpp"
#include "runtime/step_threads.hpp"
#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::rt {

namespace {

// A reference kernel on plain tensors.
class RefStep : public Step {
 public:
  std::unique_ptr<OpKernel> kernel;
  std::vector<std::pair<DType, std::vector<int64_t>>> in_types, out_types;

  void run(RunState& state) const override {
    std::vector<Tensor> in(in_types.size()), out(out_types.size());
    std::vector<const Tensor*> pin(in.size(), nullptr);
    std::vector<Tensor*> pout(out.size(), nullptr);
    for (size_t i = 0; i < in.size(); ++i) {
      if (this->in[i] < 0) continue;
      in[i] = Tensor::borrow(in_types[i].first, in_types[i].second, state.ptr[static_cast<size_t>(this->in[i])]);
      pin[i] = &in[i];
    }
    for (size_t i = 0; i < out.size(); ++i) {
      if (this->out[i] < 0) continue;
      out[i] = Tensor::borrow(out_types[i].first, out_types[i].second, state.ptr[static_cast<size_t>(this->out[i])]);
      pout[i] = &out[i];
    }
    kernel->run(pin, pout);
  }
  StepKind kind() const override { return StepKind::Reference; }
  std::string describe() const override { return node->op_type() + " (reference)"; }
};

// A tensor with a zero dim (an empty batch): oneDNN 2.6 divides by dims in
// its heuristics (a MatMul with M = 0 ends in SIGFPE while its primitive is
// chosen, found by fuzzing the C API), so such a node runs on its reference
// kernel, which loops zero times.
bool any_empty(const InferContext& ctx) {
  const auto empty = [](const std::vector<int64_t>& d) { return std::find(d.begin(), d.end(), 0) != d.end(); };
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && empty(ctx.dims(i))) return true;
  for (const auto& o : ctx.outputs())
    if (o.present && empty(o.dims)) return true;
  return false;
}

bool all_float32(const InferContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.dtype(i) != DType::Float32) return false;
  for (const auto& o : ctx.outputs())
    if (o.present && o.dtype != DType::Float32) return false;
  return true;
}

// Puts the builder's one-thread flag down when a node's build ends, thrown or not.
struct OneThreadReset {
  bool& flag;
  ~OneThreadReset() { flag = false; }
};

}  // namespace

PlanBuilder::PlanBuilder(Plan& plan, const Graph& graph, const SessionOptions& options)
    : plan_(plan), graph_(graph), options_(options) {}

int PlanBuilder::slot_of(const Value* v) const {
  auto it = slot_of_.find(v);
  return it == slot_of_.end() ? -1 : it->second;
}

dnnl::memory::desc PlanBuilder::layout(int s) const {
  auto it = layout_.find(s);
  if (it != layout_.end()) return it->second;
  return plain_of(s);
}

dnnl::memory::desc PlanBuilder::plain_of(int s) const { return plain_md(slot(s).dims, dnnl_type(slot(s).dtype)); }

int PlanBuilder::define(const Value* v, DType dtype, const std::vector<int64_t>& dims,
                        const dnnl::memory::desc* md) {
  plan_.slots_.emplace_back();
  const int s = static_cast<int>(plan_.slots_.size() - 1);
  Slot& slot = plan_.slots_.back();
  slot.dtype = dtype;
  slot.dims = dims;
  if (md && *md != plain_md(dims, dnnl_type(dtype))) {
    layout_[s] = *md;
    slot.plain = false;
    slot.bytes = md->get_size();
  }
  if (v) slot_of_[v] = s;
  return s;
}

void PlanBuilder::alias(const Value* v, int s) { slot_of_[v] = s; }

int PlanBuilder::view(const Value* v, int s, const std::vector<int64_t>& dims) {
  const Slot base = slot(s);  // a copy: define() grows the slot vector
  const int root = base.view_of >= 0 ? base.view_of : s;
  // Row-major in another data type (bf16) reshapes as plain float32 does.
  const auto dt = layout(s).data_type();
  const bool row_major = base.plain || layout(s) == plain_md(base.dims, dt);
  BNFOLD_CHECK(row_major || dims == base.dims, ErrorCode::Internal, "a view of a blocked slot with other dims");
  const dnnl::memory::desc md = row_major ? plain_md(dims, dt) : layout(s);
  const int w = define(v, base.dtype, dims, &md);
  Slot& view = plan_.slots_[static_cast<size_t>(w)];
  view.view_of = root;
  view.view_bytes = base.view_of >= 0 ? base.view_bytes : 0;
  view.constant = nullptr;
  return w;
}

bool PlanBuilder::into_box(int s, int base, size_t at) {
  Slot& sl = plan_.slots_[static_cast<size_t>(s)];
  const Slot& b = slot(base);
  if (s == base || sl.constant || sl.input >= 0 || sl.view_of >= 0 || b.view_of >= 0 || sl.dtype != b.dtype)
    return false;
  sl.view_of = base;
  sl.view_bytes = at;
  for (Slot& other : plan_.slots_)  // s's own views (a Reshape of it) move with it
    if (other.view_of == s) {
      other.view_of = base;
      other.view_bytes += at;
    }
  return true;
}

int PlanBuilder::in_layout(int s, const dnnl::memory::desc& md) {
  if (layout(s) == md) return s;
  for (const Reorder& r : reorders_)
    if (r.from == s && r.md == md) return r.to;
  // Copies: define() grows the slot vector, which moves slot(s).
  const DType dtype = slot(s).dtype;
  const std::vector<int64_t> dims = slot(s).dims;
  const int to = define(nullptr, dtype, dims, &md);
  const dnnl::reorder::primitive_desc pd(dnnl_engine(), layout(s), dnnl_engine(), md, scratch_attr());
  auto step = std::make_unique<DnnlStep>(*this, pd, "reorder", StepKind::Reorder);
  step->arg(DNNL_ARG_FROM, s, layout(s));
  step->arg(DNNL_ARG_TO, to, md);
  add_step(std::move(step));
  reorders_.push_back({s, md, to});
  return to;
}

void PlanBuilder::add_step(std::unique_ptr<Step> step) {
  if (step->node && step->node == current_) step->flops = current_flops_;
  step->one_thread = one_thread_;
  if (one_thread_) step->why += (step->why.empty() ? "" : "; ") + one_thread_why_;
  if (!dynamic_cast<RefStep*>(step.get())) plan_.uses_dnnl_ = true;
  plan_.steps_.push_back(std::move(step));
}

int PlanBuilder::materialize(const Value* v) {
  const int s = slot_of(v);
  auto it = deferred_.find(v);
  if (s >= 0 || it == deferred_.end()) return s;
  const Node* n = it->second;
  deferred_.erase(it);
  absorbed_.erase(n);
  undeferred_.insert(n);
  const Node* node = current_;  // build_node sets them for n
  const double flops = current_flops_;
  build_node(*n);
  current_ = node;
  current_flops_ = flops;
  return slot_of(v);
}

const Node* PlanBuilder::sole_consumer(const Value* v) const {
  if (!v || v->is_graph_output() || v->uses().size() != 1) return nullptr;
  return v->uses()[0].node;
}

bool PlanBuilder::can_overwrite(int s, const std::vector<const Node*>& fusing) const {
  const Slot& sl = slot(s);
  if (sl.constant || sl.input >= 0 || sl.view_of >= 0) return false;
  for (const Slot& other : plan_.slots_)
    if (other.view_of == s) return false;
  for (const auto& [v, at] : slot_of_) {
    if (at != s) continue;
    if (v->is_graph_output()) return false;
    for (const Use& u : v->uses())
      if (!built_.count(u.node) && !absorbed_.count(u.node) &&
          std::find(fusing.begin(), fusing.end(), u.node) == fusing.end())
        return false;
  }
  return true;
}

dnnl::memory PlanBuilder::constant_weights(const Tensor& source, double scale, const dnnl::memory::desc& src_md,
                                           const dnnl::memory::desc& want) {
  return plan_.weights_->get(source, scale, src_md, want);
}

const Tensor* PlanBuilder::own(Tensor t) {
  plan_.owned_.push_back(std::make_unique<Tensor>(std::move(t)));
  return plan_.owned_.back().get();
}

void PlanBuilder::build(const std::vector<Plan::Input>& inputs, const std::unordered_set<const Node*>* done) {
  continuation_ = done != nullptr;
  if (options_.collect_bn_stats && options_.bn_mode == BnMode::Inference)
    for (FoldedBn& f : folded_bns(graph_)) {
      const Value* v = graph_.find_value(f.value);
      if (!v || v->is_constant() || taps_.count(v)) continue;  // a record the graph no longer matches
      tap_order_.push_back(v);
      taps_.emplace(v, std::move(f));
    }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const DType dtype = inputs[i].dtype != DType::Undefined ? inputs[i].dtype : inputs[i].value->dtype();
    const int s = define(inputs[i].value, dtype, inputs[i].dims, nullptr);
    if (inputs[i].known) plan_.slots_[static_cast<size_t>(s)].constant = own(inputs[i].known->clone());
    else plan_.slots_[static_cast<size_t>(s)].input = static_cast<int>(i);
  }
  add_pending_taps();
  // A node that needs a run-time value to size its outputs stops the plan
  // there; what reads its outputs (directly or not) waits for the next plan.
  std::unordered_set<const Value*> waiting;
  std::vector<const Node*> rest;
  for (const Node* node : graph_.topological_order()) {
    if ((done && done->count(node)) || absorbed_.count(node)) continue;
    bool waits = false;
    for (const Value* v : node->inputs()) waits |= v && waiting.count(v);
    if (!waits) {
      try {
        build_node(*node);
        add_pending_taps();
        continue;
      } catch (const NeedsRunValue&) {
        built_.erase(node);  // infer() threw before the node defined anything
        plan_.stops_.push_back(node);
      }
    }
    for (const Value* v : node->outputs())
      if (v) waiting.insert(v);
    rest.push_back(node);
  }
  plan_.done_ = done ? *done : std::unordered_set<const Node*>{};
  plan_.done_.insert(built_.begin(), built_.end());
  plan_.done_.insert(absorbed_.begin(), absorbed_.end());
  if (!plan_.stops_.empty()) {
    carry(rest);
    return;
  }
  for (const Value* v : graph_.outputs()) {
    int s = slot_of(v);
    if (s < 0) {  // an initializer listed as output
      s = define(v, v->data().dtype(), v->data().dims(), nullptr);
      plan_.slots_[static_cast<size_t>(s)].constant = &v->data();
    }
    plan_.output_slots_.push_back(plain_output(s));
  }
}

int PlanBuilder::plain_output(int s) {
  // A plain slot as is: oneDNN cannot even describe one of over 12 dims.
  return slot(s).plain ? s : in_layout(s, plain_of(s));
}

void PlanBuilder::carry(const std::vector<const Node*>& rest) {
  std::vector<const Value*> values;
  const auto add = [&](const Value* v) {
    if (v && !v->has_data() && std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
  };
  for (const Node* n : rest)
    for (const Value* v : n->inputs())
      if (v && (slot_of(v) >= 0 || deferred_.count(v))) add(v);
  for (const Value* v : graph_.outputs())
    if (slot_of(v) >= 0) add(v);
  for (const Value* v : values) {
    const int s = materialize(v);
    BNFOLD_CHECK(s >= 0, ErrorCode::Internal, "value '{}' has no slot", v->name());
    plan_.carry_.push_back(v);
    plan_.carry_known_.push_back(slot(s).constant);
    plan_.output_slots_.push_back(plain_output(s));
  }
}

void PlanBuilder::build_node(const Node& node) {
  built_.insert(&node);
  const OpEntry* entry = find_op(node);
  BNFOLD_CHECK(entry != nullptr, ErrorCode::Unsupported, "{}: {}", node.label(), why_unsupported(node));
  std::unique_ptr<OpKernel> kernel = entry->kernel(node);
  std::vector<ArgInfo> args;
  std::vector<int> in;
  bool all_constant = true, deferred_input = false;
  for (const Value* v : node.inputs()) {
    ArgInfo a;
    int s = -1;
    if (v && slot_of(v) < 0 && deferred_.count(v)) {
      // A deferred DequantizeLinear's output: float32 with its input's dims, not computed (yet).
      a.present = true;
      a.dtype = DType::Float32;
      a.dims = slot(slot_of(deferred_.at(v)->input(0))).dims;
      deferred_input = true;
      all_constant = false;
      in.push_back(-1);
      args.push_back(std::move(a));
      continue;
    }
    if (v) {
      s = slot_of(v);
      if (s < 0) {  // a weight, met for the first time
        BNFOLD_CHECK(v->has_data(), ErrorCode::Internal, "value '{}' has no slot", v->name());
        s = define(v, v->data().dtype(), v->data().dims(), nullptr);
        plan_.slots_[static_cast<size_t>(s)].constant = &v->data();
      }
      const Slot& sl = slot(s);
      a.present = true;
      a.dtype = sl.dtype;
      a.dims = sl.dims;
      a.value = sl.constant;
      if (sl.input >= 0) a.graph_input = v->name();
      else if (!a.value)
        if (auto from = small_sources(v)) a.computed_from = std::move(*from);
      all_constant &= a.value != nullptr;
    }
    in.push_back(s);
    args.push_back(std::move(a));
  }
  InferContext ctx(node, std::move(args));
  kernel->infer(ctx);
  // Only a Conv or Gemm can take a deferred input's quantized form; anything else computes it now.
  const auto materialize_inputs = [&] {
    for (size_t i = 0; i < in.size(); ++i)
      if (in[i] < 0 && node.input(i)) in[i] = materialize(node.input(i));
  };
  if (deferred_input && node.op_type() != "Conv" && node.op_type() != "Gemm") materialize_inputs();

  // Outputs known now, or computable from constants alone, are computed once here.
  bool known = true;
  for (size_t k = 0; k < node.outputs().size(); ++k)
    if (node.output(k) && ctx.output_values()[k].empty()) known = false;
  if (!known && all_constant) {
    std::vector<const Tensor*> pin;
    for (int s : in) pin.push_back(s < 0 ? nullptr : slot(s).constant);
    std::vector<Tensor*> pout;
    for (size_t k = 0; k < node.outputs().size(); ++k) {
      if (!node.output(k)) {
        pout.push_back(nullptr);
        continue;
      }
      ctx.output_values()[k] = Tensor(ctx.outputs()[k].dtype, ctx.outputs()[k].dims);
      pout.push_back(&ctx.output_values()[k]);
    }
    kernel->run(pin, pout);
    known = true;
  }
  if (known) {
    for (size_t k = 0; k < node.outputs().size(); ++k) {
      if (!node.output(k)) continue;
      const int s = define(node.output(k), ctx.outputs()[k].dtype, ctx.outputs()[k].dims, nullptr);
      plan_.slots_[static_cast<size_t>(s)].constant = own(std::move(ctx.output_values()[k]));
    }
    return;
  }
  current_ = &node;
  current_flops_ = entry->flops ? entry->flops(node, ctx) : 0;
  const DataMovement movement = kernel->movement();
  // Exporters name an inference Dropout's mask even when nothing reads it: then it is the identity too.
  const bool unread_mask = node.op_type() == "Dropout" && node.domain().empty() && node.outputs().size() == 2 &&
                           node.output(1) && node.output(1)->uses().empty() && !node.output(1)->is_graph_output();
  if ((movement.kind == DataMovement::Kind::View || unread_mask) && build_view(node, ctx, in, unread_mask)) return;
  // A copy moves input 0 alone (Slice's starts and ends are plan-time integers).
  const bool onednn = options_.use_onednn && !any_empty(ctx);
  // Too little work to share (step_threads.hpp): its primitives are made for one thread and run on one.
  one_thread_ = onednn && options_.threads != 1 && one_thread_work(ctx, current_flops_, &one_thread_why_);
  const auto single = one_thread_ ? std::optional<ThreadCountScope>(std::in_place, 1) : std::nullopt;
  const OneThreadReset reset{one_thread_};
  const bool f32_copy = ctx.dtype(0) == DType::Float32 && std::all_of(ctx.outputs().begin(), ctx.outputs().end(), [](const ArgInfo& o) { return !o.present || o.dtype == DType::Float32; });
  if (movement.kind == DataMovement::Kind::Copy && onednn && f32_copy) {
    try {
      if (build_copy(*this, node, ctx, movement)) return;
    } catch (const dnnl::error&) {
      // oneDNN cannot describe this copy: the reference kernel runs it.
    }
  }
  if (entry->lowering == Lowering::BatchNorm) {
    const auto& only = options_.batch_statistics_bns;
    const bool batch_stats = options_.bn_mode == BnMode::BatchStatistics ||
                             std::find(only.begin(), only.end(), node_name(node)) != only.end();
    // Collecting in inference mode: measure the input where it lies, then run the BN as usual.
    const bool tapped = !batch_stats && options_.collect_bn_stats && onednn &&
                        !batchnorm_attrs(node).training && build_bn_tap(*this, node, in);
    if (!tapped && (batch_stats || options_.collect_bn_stats) && build_bn_stats_step(*this, node, ctx, in, batch_stats))
      return;
  }
  const bool quantized_io = entry->lowering == Lowering::Quantize || entry->lowering == Lowering::Dequantize;
  if (onednn && (all_float32(ctx) || quantized_io)) {
    try {
      if (build_dnnl_step(*this, *entry, node, ctx)) return;
    } catch (const dnnl::error&) {
      // oneDNN has no implementation for this case: the reference kernel runs it.
    }
  }
  if (deferred_input) materialize_inputs();
  add_reference_step(node, std::move(kernel), ctx, in);
}

// A shape-deciding value computed at run time (a window's length through a
// Cast, a Range's limit from a scalar input) can still be known at plan time
// when it comes from graph inputs small enough to key plans by their values
// (shape-like: at most kShapeLikeInput elements) and constants. A value fed by a
// larger input (an image) stays unknown: keying plans by it would make one
// plan per run.
std::optional<std::vector<std::string>> PlanBuilder::small_sources(const Value* v) {
  if (auto it = sources_.find(v); it != sources_.end()) return it->second;
  std::optional<std::vector<std::string>> out = std::vector<std::string>{};
  const int s = slot_of(v);
  if (s >= 0 && slot(s).constant) {
    // known: no source
  } else if (s >= 0 && slot(s).input >= 0) {
    if (product(slot(s).dims) <= kShapeLikeInput) out->push_back(v->name());
    else out.reset();
  } else if (const Node* p = v->producer()) {
    for (const Value* in : p->inputs()) {
      if (!in) continue;
      auto from = small_sources(in);
      if (!from) {
        out.reset();
        break;
      }
      for (auto& name : *from)
        if (std::find(out->begin(), out->end(), name) == out->end()) out->push_back(name);
    }
  } else if (!v->has_data()) {
    out.reset();
  }
  sources_[v] = out;
  return out;
}

void PlanBuilder::add_pending_taps() {
  for (const Value*& v : tap_order_) {
    const int s = v ? slot_of(v) : -1;
    if (s < 0) continue;
    const FoldedBn& f = taps_.at(v);
    // A value computed at plan time (from constants) varies with no input:
    // nothing to watch. One a continuation receives was measured by the plan
    // that computed it.
    const bool measured_before = continuation_ && slot(s).input >= 0;
    BNFOLD_CHECK(slot(s).constant || measured_before || build_folded_tap(*this, f, s), ErrorCode::Unsupported,
                 "cannot measure '{}' (for the folded BN '{}') in its layout", v->name(), f.bn);
    v = nullptr;  // done
  }
}

bool PlanBuilder::build_view(const Node& node, const InferContext& ctx, const std::vector<int>& in,
                             bool unread_extra_outputs) {
  if (in.empty() || in[0] < 0 || ctx.outputs().empty() || ctx.outputs()[0].dtype != slot(in[0]).dtype) return false;
  for (size_t k = 1; k < node.outputs().size(); ++k)
    if (node.output(k) && !unread_extra_outputs) return false;
  const std::vector<int64_t>& dims = ctx.outputs()[0].dims;
  int s = in[0];
  // Kept in its data type: a bf16 tensor flattened before a Gemm stays bf16.
  if (!slot(s).plain && dims != slot(s).dims) s = in_layout(s, plain_md(slot(s).dims, layout(s).data_type()));
  view(node.output(0), s, dims);
  return true;
}

void PlanBuilder::add_reference_step(const Node& node, std::unique_ptr<OpKernel> kernel,
                                     const InferContext& ctx, const std::vector<int>& in) {
  auto step = std::make_unique<RefStep>();
  step->node = &node;
  step->kernel = std::move(kernel);
  for (int s : in) {
    if (s >= 0 && !slot(s).plain) s = in_layout(s, plain_of(s));
    step->in.push_back(s);
    step->in_types.emplace_back(s >= 0 ? slot(s).dtype : DType::Undefined,
                                s >= 0 ? slot(s).dims : std::vector<int64_t>{});
  }
  for (size_t k = 0; k < node.outputs().size(); ++k) {
    const auto& o = ctx.outputs()[k];
    step->out.push_back(node.output(k) ? define(node.output(k), o.dtype, o.dims, nullptr) : -1);
    step->out_types.emplace_back(o.dtype, o.dims);
  }
  add_step(std::move(step));
}

}  // namespace bnfold::rt
