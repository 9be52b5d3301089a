// Plan building: concrete shapes for every value, kernels chosen and set up,
// values known at plan time (weights, Shape->Gather->Concat chains) computed
// once, and activation buffers placed in one arena by lifetime.
#include "runtime/plan.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "runtime/ops/ops.hpp"

namespace bnfold::rt {

namespace {

constexpr size_t kAlign = 64;

size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

}  // namespace

Plan::Plan(const Graph& graph, const std::vector<Input>& inputs, const SessionOptions& options) {
  (void)options;
  std::unordered_map<const Value*, int> slot_of;
  auto new_slot = [&](const Value* v) {
    slots_.emplace_back();
    slot_of[v] = static_cast<int>(slots_.size() - 1);
    return static_cast<int>(slots_.size() - 1);
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    Slot& slot = slots_[static_cast<size_t>(new_slot(inputs[i].value))];
    slot.dtype = inputs[i].value->dtype();
    slot.dims = inputs[i].dims;
    if (inputs[i].known) {  // this plan serves only this value of the input
      folded_.push_back(std::make_unique<Tensor>(inputs[i].known->clone()));
      slot.constant = folded_.back().get();
    } else {
      slot.input = static_cast<int>(i);
    }
  }
  auto slot_for_input = [&](const Value* v) -> int {
    auto it = slot_of.find(v);
    if (it != slot_of.end()) return it->second;
    BNFOLD_CHECK(v->has_data(), ErrorCode::Internal, "value '{}' has no slot", v->name());
    const int s = new_slot(v);
    Slot& slot = slots_[static_cast<size_t>(s)];
    slot.dtype = v->data().dtype();
    slot.dims = v->data().dims();
    slot.constant = &v->data();
    return s;
  };

  for (const Node* node : graph.topological_order()) {
    const OpEntry* entry = node->domain().empty() ? find_op(node->op_type(), node->graph_opset()) : nullptr;
    BNFOLD_CHECK(entry != nullptr, ErrorCode::Unsupported, "{}: {}", node->label(),
                 why_unsupported(node->op_type(), node->graph_opset()));
    Step step;
    step.node = node;
    step.kernel = entry->make(*node);
    std::vector<ArgInfo> args;
    bool all_constant = true;
    for (const Value* v : node->inputs()) {
      ArgInfo a;
      if (v) {
        const int s = slot_for_input(v);
        const Slot& slot = slots_[static_cast<size_t>(s)];
        a.present = true;
        a.dtype = slot.dtype;
        a.dims = slot.dims;
        a.value = slot.constant;
        if (slot.input >= 0) a.graph_input = v->name();
        all_constant &= a.value != nullptr;
        step.in.push_back(s);
      } else {
        step.in.push_back(-1);
      }
      args.push_back(std::move(a));
    }
    InferContext ctx(*node, std::move(args));
    step.kernel->infer(ctx);

    // Outputs known now, or computable from constants alone, are computed once here.
    bool known = true;
    for (size_t k = 0; k < node->outputs().size(); ++k)
      if (node->output(k) && ctx.output_values()[k].empty()) known = false;
    if (!known && all_constant) {
      std::vector<const Tensor*> in;
      for (int s : step.in) in.push_back(s < 0 ? nullptr : slots_[static_cast<size_t>(s)].constant);
      std::vector<Tensor*> out;
      for (size_t k = 0; k < node->outputs().size(); ++k) {
        if (!node->output(k)) {
          out.push_back(nullptr);
          continue;
        }
        ctx.output_values()[k] = Tensor(ctx.outputs()[k].dtype, ctx.outputs()[k].dims);
        out.push_back(&ctx.output_values()[k]);
      }
      step.kernel->run(in, out);
      known = true;
    }
    for (size_t k = 0; k < node->outputs().size(); ++k) {
      const Value* v = node->output(k);
      if (!v) {
        step.out.push_back(-1);
        continue;
      }
      const int s = new_slot(v);
      Slot& slot = slots_[static_cast<size_t>(s)];
      slot.dtype = ctx.outputs()[k].dtype;
      slot.dims = ctx.outputs()[k].dims;
      if (known) {
        folded_.push_back(std::make_unique<Tensor>(std::move(ctx.output_values()[k])));
        slot.constant = folded_.back().get();
      }
      step.out.push_back(s);
    }
    if (!known) steps_.push_back(std::move(step));
  }
  for (const Value* v : graph.outputs()) output_slots_.push_back(slot_for_input(v));
  plan_memory();
}

void Plan::plan_memory() {
  // Lifetime of each computed slot: [defining step, last reading step];
  // graph outputs live to the end.
  const int end = static_cast<int>(steps_.size());
  std::vector<int> first(slots_.size(), -1), last(slots_.size(), -1);
  for (int i = 0; i < end; ++i) {
    for (int s : steps_[static_cast<size_t>(i)].out)
      if (s >= 0) first[static_cast<size_t>(s)] = last[static_cast<size_t>(s)] = i;
    for (int s : steps_[static_cast<size_t>(i)].in)
      if (s >= 0) last[static_cast<size_t>(s)] = i;
  }
  for (int s : output_slots_) last[static_cast<size_t>(s)] = end;

  std::vector<int> order;
  for (size_t s = 0; s < slots_.size(); ++s) {
    Slot& slot = slots_[s];
    if (slot.constant || slot.input >= 0 || first[s] < 0) continue;
    slot.bytes = aligned(static_cast<size_t>(checked_numel(slot.dims)) * dtype_size(slot.dtype));
    order.push_back(static_cast<int>(s));
  }
  // Largest first, each at the lowest offset that no live-overlapping slot uses.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return slots_[static_cast<size_t>(a)].bytes > slots_[static_cast<size_t>(b)].bytes;
  });
  std::vector<int> placed;
  for (int s : order) {
    Slot& slot = slots_[static_cast<size_t>(s)];
    std::vector<std::pair<size_t, size_t>> busy;
    for (int p : placed) {
      const auto sp = static_cast<size_t>(p);
      if (first[sp] <= last[static_cast<size_t>(s)] && first[static_cast<size_t>(s)] <= last[sp])
        busy.emplace_back(slots_[sp].offset, slots_[sp].offset + slots_[sp].bytes);
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [b, e] : busy) {
      if (offset + slot.bytes <= b) break;
      offset = std::max(offset, e);
    }
    slot.offset = offset;
    arena_bytes_ = std::max(arena_bytes_, offset + slot.bytes);
    placed.push_back(s);
  }
}

std::vector<Tensor> Plan::run(const std::vector<const Tensor*>& inputs) const {
  std::shared_ptr<void> arena(std::aligned_alloc(kAlign, std::max(arena_bytes_, kAlign)), std::free);
  BNFOLD_CHECK(arena != nullptr, ErrorCode::Io, "out of memory allocating {} bytes of activations", arena_bytes_);
  auto* base = static_cast<char*>(arena.get());
  std::vector<Tensor> views(slots_.size());
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    void* data = slot.constant ? const_cast<void*>(slot.constant->data())
                 : slot.input >= 0 ? const_cast<void*>(inputs[static_cast<size_t>(slot.input)]->data())
                                   : base + slot.offset;
    if (slot.dtype != DType::Undefined && dtype_size(slot.dtype) > 0)
      views[s] = Tensor::borrow(slot.dtype, slot.dims, data);
  }
  std::vector<const Tensor*> in;
  std::vector<Tensor*> out;
  for (const Step& step : steps_) {
    in.clear();
    out.clear();
    for (int s : step.in) in.push_back(s < 0 ? nullptr : &views[static_cast<size_t>(s)]);
    for (int s : step.out) out.push_back(s < 0 ? nullptr : &views[static_cast<size_t>(s)]);
    step.kernel->run(in, out);
  }
  std::vector<Tensor> results;
  for (int s : output_slots_) results.push_back(views[static_cast<size_t>(s)].clone());
  return results;
}

}  // namespace bnfold::rt
