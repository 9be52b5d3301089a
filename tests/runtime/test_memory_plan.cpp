// The memory plan, as a property: on random graphs (and the bundled models),
// no two activations that are alive at the same step share a byte of the
// arena. Lifetimes are recomputed here from the steps alone: from the first
// step that writes a slot to the last that reads or writes it, and to the
// end for graph outputs. A view (Reshape, Identity: the same bytes as its
// base) counts as a use of its base.
#include <catch2/catch.hpp>

#include <random>

#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "runtime/plan.hpp"
#include "bnfold/runtime/session.hpp"
#include "tests/model_builder.hpp"

using namespace bnfold;

namespace {

const std::string kModels = BNFOLD_MODELS_DIR;

struct Interval {
  int first = -1, last = -1;
};

// Every violation as text ("slots 3 and 7 overlap while both live at steps 2..4").
std::vector<std::string> overlaps(const rt::Plan& plan) {
  const auto& slots = plan.slots();
  const auto& steps = plan.steps();
  std::vector<Interval> life(slots.size());
  const auto base = [&](int s) { return static_cast<size_t>(slots[static_cast<size_t>(s)].view_of >= 0 ? slots[static_cast<size_t>(s)].view_of : s); };
  for (int i = 0; i < static_cast<int>(steps.size()); ++i) {
    for (int s : steps[static_cast<size_t>(i)]->out)
      if (s >= 0 && life[base(s)].first < 0) life[base(s)].first = i;
    for (const auto* list : {&steps[static_cast<size_t>(i)]->in, &steps[static_cast<size_t>(i)]->out})
      for (int s : *list)
        if (s >= 0) life[base(s)].last = std::max(life[base(s)].last, i);
  }
  for (int s : plan.output_slots()) life[base(s)].last = static_cast<int>(steps.size());
  for (size_t s = 0; s < slots.size(); ++s)  // a view shares its base's bytes
    if (slots[s].view_of >= 0) CHECK(slots[s].offset == slots[static_cast<size_t>(slots[s].view_of)].offset);
  std::vector<std::string> out;
  for (size_t a = 0; a < slots.size(); ++a) {
    const rt::Slot& sa = slots[a];
    if (sa.constant || sa.input >= 0 || sa.view_of >= 0 || life[a].first < 0) continue;
    CHECK(sa.offset + sa.bytes <= plan.arena_bytes());
    for (size_t b = a + 1; b < slots.size(); ++b) {
      const rt::Slot& sb = slots[b];
      if (sb.constant || sb.input >= 0 || sb.view_of >= 0 || life[b].first < 0) continue;
      const bool alive_together = life[a].first <= life[b].last && life[b].first <= life[a].last;
      const bool share_bytes = sa.offset < sb.offset + sb.bytes && sb.offset < sa.offset + sa.bytes;
      if (alive_together && share_bytes)
        out.push_back("slots " + std::to_string(a) + " and " + std::to_string(b) + " overlap");
    }
  }
  return out;
}

rt::Plan plan_for(const Graph& g, const std::map<std::string, Tensor>& inputs, bool onednn) {
  std::vector<rt::Plan::Input> in;
  for (const Value* v : g.required_inputs()) in.push_back({v, inputs.at(v->name()).dims(), nullptr});
  SessionOptions o;
  o.use_onednn = onednn;
  o.threads = 1;
  return rt::Plan(g, in, o);
}

// A random DAG of element-wise ops, convolutions, pools and concats over a
// few shapes: many values with short and long lives.
test::TestModel random_graph(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  test::TestModel m;
  const int64_t n = 1 + static_cast<int64_t>(pick(3)), c = 2 + static_cast<int64_t>(pick(7));
  const int64_t h = 3 + static_cast<int64_t>(pick(6));
  std::vector<Value*> live = {m.input("x", {n, c, h, h})};
  const size_t nodes = 6 + pick(20);
  for (size_t i = 0; i < nodes; ++i) {
    Value* a = live[pick(live.size())];
    Value* b = live[pick(live.size())];
    Value* out = nullptr;
    switch (pick(9)) {
      case 6: out = m.node("Identity", {a}); break;
      case 7: {  // a view through other dims and back: [n, c*h, h] then [n, c, h, h]
        Tensor flat(DType::Int64, {3}), back(DType::Int64, {4});
        const int64_t f[] = {n, c * h, h}, bk[] = {n, c, h, h};
        std::copy(f, f + 3, flat.mutable_data_as<int64_t>());
        std::copy(bk, bk + 4, back.mutable_data_as<int64_t>());
        Value* r = m.node("Reshape", {a, m.g->add_constant("flat" + std::to_string(i), std::move(flat))});
        out = m.node("Reshape", {m.node("Relu", {r}), m.g->add_constant("back" + std::to_string(i), std::move(back))});
        break;
      }
      case 8: out = m.node("Transpose", {a}, "", {{"perm", test::ints({0, 1, 3, 2})}}); break;
      case 0: out = m.node("Relu", {a}); break;
      case 1: out = m.node("Add", {a, b}); break;
      case 2: out = m.node("Mul", {a, m.weight("k" + std::to_string(i), {c, 1, 1})}); break;
      case 3:
        out = m.node("Conv", {a, m.weight("w" + std::to_string(i), {c, c, 3, 3})}, "",
                     {{"pads", test::ints({1, 1, 1, 1})}});
        break;
      case 4: out = m.node("MaxPool", {a}, "", {{"kernel_shape", test::ints({3, 3})}, {"pads", test::ints({1, 1, 1, 1})},
                                               {"strides", test::ints({1, 1})}});
        break;
      default: {
        // Concat then a 1x1 conv back to c channels: a value twice as large.
        Value* cat = m.node("Concat", {a, b}, "", {{"axis", Attribute::of_int(1)}});
        out = m.node("Conv", {cat, m.weight("p" + std::to_string(i), {c, 2 * c, 1, 1})});
      }
    }
    live.push_back(out);
  }
  // A few outputs, among them an early value that must live to the end.
  m.output(live.back());
  if (live.size() > 3) m.output(live[1 + pick(live.size() - 2)]);
  return m;
}

}  // namespace

TEST_CASE("the memory plan never gives two live activations the same bytes", "[runtime][memory]") {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    const test::TestModel m = random_graph(seed);
    for (bool onednn : {false, true}) {
      INFO("seed " << seed << (onednn ? ", oneDNN" : ", reference kernels"));
      const rt::Plan plan = plan_for(*m.g, m.inputs, onednn);
      const auto bad = overlaps(plan);
      CHECK(bad.empty());
      if (!bad.empty()) FAIL(bad.front());
    }
    // And the plans compute what the reference kernels do (the arena is reused across runs).
    SessionOptions fast, ref;
    fast.threads = 2;
    ref.use_onednn = false;
    const Session a(m.g, fast), b(m.g, ref);
    const auto want = b.run(m.inputs);
    for (int run = 0; run < 2; ++run) test::check_same_outputs(a.run(m.inputs), want, 1e-4, 1e-4);
  }
}

TEST_CASE("the memory plan of the bundled models, at batch 1 and 5", "[runtime][memory]") {
  for (const char* name : {"tiny_resnet.onnx", "deconv_bn.onnx", "mlp_bn.onnx"}) {
    const std::shared_ptr<const Graph> g(load_onnx(kModels + "/" + name));
    for (int64_t batch : {1, 5}) {
      std::map<std::string, Tensor> inputs;
      for (const Value* v : g->required_inputs()) {
        std::vector<int64_t> dims;
        for (const Dim& d : v->shape().dims) dims.push_back(d.known() ? d.value : batch);
        inputs[v->name()] = Tensor(v->dtype(), dims);
      }
      for (bool onednn : {false, true}) {
        INFO(name << " batch " << batch << (onednn ? ", oneDNN" : ", reference kernels"));
        CHECK(overlaps(plan_for(*g, inputs, onednn)).empty());
      }
    }
  }
}
