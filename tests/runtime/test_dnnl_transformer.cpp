// What transformers' exports spend time on, in one oneDNN step each, against
// the reference kernels: GELU written out as Div/Erf/Add/Mul/Mul (fused after a
// MatMul with its bias, or alone), a Linear's bias over the last axis fused
// into the MatMul, attention scores' position bias fused where oneDNN offers
// a kernel for it, and a position embedding added over the batch.
#include <catch2/catch.hpp>

#include <dnnl.hpp>

#include <cmath>

#include "runtime/dnnl/dnnl_util.hpp"
#include "tests/runtime/dnnl_case.hpp"

using namespace bnfold;
using namespace bnfold::test;

namespace {

Value* scalar(Case& t, const std::string& name, float v) {
  Tensor s(DType::Float32, {});
  s.mutable_data_as<float>()[0] = v;
  return t.g->add_constant(name, std::move(s));
}

// 0.5 x (1 + erf(x / sqrt 2)) as PyTorch 1.13 exports it (half_last), or with
// x * 0.5 first and x * (1/sqrt 2) instead of the Div; `root` replaces sqrt 2.
Value* gelu(Case& t, Value* x, bool half_last, float root = static_cast<float>(M_SQRT2)) {
  Value* scaled = half_last ? t.node("Div", {x, scalar(t, "root", root)})
                            : t.node("Mul", {x, scalar(t, "inv_root", 1.0f / root)});
  Value* p = t.node("Add", {t.node("Erf", {scaled}), scalar(t, "one", 1.0f)});
  if (half_last) return t.node("Mul", {t.node("Mul", {x, p}), scalar(t, "half", 0.5f)});
  return t.node("Mul", {t.node("Mul", {x, scalar(t, "half", 0.5f)}), p});
}

size_t reference_steps(const Case& t) {
  SessionOptions o;
  o.threads = 2;
  return Session(t.g, o).plan_stats(t.inputs).reference_steps;
}

}  // namespace

TEST_CASE("GELU written out becomes oneDNN's gelu_erf: fused after a MatMul and its bias, or alone",
          "[kernels][fusion]") {
  for (bool half_last : {true, false}) {
    INFO("half_last " << half_last);
    Case fused;  // [batch, tokens, features] x [features, hidden] + bias: one step
    Value* m = fused.node("MatMul", {fused.input("x", {2, 5, 24}), fused.weight("w", {24, 16})});
    fused.output(gelu(fused, fused.node("Add", {m, fused.weight("b", {16})}), half_last));
    const auto steps = fused.check(1e-4, 1e-5);
    CHECK(contains(steps, "MatMul (oneDNN) + Add + GELU"));
    CHECK(steps.size() == 1);
    CHECK(reference_steps(fused) == 0);
    Case alone;  // on a graph input: one eltwise step computes the last Mul's output
    alone.output(gelu(alone, alone.input("x", {3, 7, 9}), half_last));
    const auto one = alone.check(1e-4, 1e-5);
    CHECK(contains(one, "as GELU"));
    CHECK(one.size() == 1);
  }
  Case other;  // another constant is not GELU: computed as written, Erf by the reference kernel
  other.output(gelu(other, other.input("x", {2, 6}), true, 1.5f));
  CHECK_FALSE(contains(other.check(), "GELU"));
  Case seen;  // an intermediate value the graph also returns must exist: not fused
  Value* x = seen.input("x", {2, 6});
  Value* out = gelu(seen, x, true);
  seen.output(out);
  seen.output(seen.g->find_value(out->producer()->input(0)->name()));  // x * (1 + erf)
  CHECK_FALSE(contains(seen.check(), "GELU"));
}

TEST_CASE("a MatMul's bias over the last axis fuses, one over another axis does not", "[kernels][fusion]") {
  Case last;
  Value* m = last.node("MatMul", {last.input("x", {3, 4, 10}), last.weight("w", {10, 6})});
  last.output(last.node("Relu", {last.node("Add", {m, last.weight("b", {6})})}));
  CHECK(contains(last.check(), "MatMul (oneDNN) + Add + Relu"));
  Case rows;  // one value per token ([4, 1]): not a column bias
  Value* m2 = rows.node("MatMul", {rows.input("x", {3, 4, 10}), rows.weight("w", {10, 6})});
  rows.output(rows.node("Add", {m2, rows.weight("b", {4, 1})}));
  CHECK_FALSE(contains(rows.check(), "MatMul (oneDNN) + Add"));
}

TEST_CASE("a constant repeated over the batch (a position embedding) is added by oneDNN's jit kernel",
          "[kernels][fusion]") {
  for (const std::vector<int64_t>& pos : {std::vector<int64_t>{1, 5, 12}, std::vector<int64_t>{5, 12}}) {
    CAPTURE(pos);
    Case t;
    Value* x = t.node("Transpose", {t.input("x", {3, 12, 5})}, {{"perm", ints({0, 2, 1})}});  // [3, 5, 12]
    t.output(t.node("Add", {t.weight("pos", pos), x}));
    SessionOptions o;
    o.threads = 2;
    t.check();
    const auto stats = Session(t.g, o).plan_stats(t.inputs);
    for (size_t i = 0; i < stats.step_descriptions.size(); ++i)
      if (stats.step_descriptions[i].rfind("Add", 0) == 0) CHECK(stats.step_implementations[i] != "ref:any");
  }
}

TEST_CASE("a binary op whose operand repeats over inner dims runs as bnfold's loop, not oneDNN's ref:any",
          "[kernels][fusion]") {
  struct Spec {
    const char* op;
    std::vector<int64_t> x, k;
    bool k_first;
  };
  const Spec specs[] = {
      {"Add", {2, 3, 4, 5, 6}, {1, 3, 1, 5, 6}, false},  // Swin's shifted-window mask
      {"Mul", {2, 3, 4, 5, 6}, {3, 1, 5, 6}, true},
      {"Sub", {3, 4, 7}, {3, 1, 7}, true},                 // k - x: non-commutative, the operand first
      {"Div", {3, 4, 7}, {3, 4, 1}, false},                // one value per row
      {"Div", {2, 5, 3}, {1, 5, 1}, true},
  };
  for (const auto& s : specs) {
    CAPTURE(s.op, s.x, s.k, s.k_first);
    Case t;
    Value* x = t.node("Relu", {t.input("x", s.x)});
    Value* k = std::string(s.op) == "Div" ? t.positive("k", s.k) : t.weight("k", s.k);
    t.output(t.node(s.op, s.k_first ? std::vector<Value*>{k, x} : std::vector<Value*>{x, k}));
    t.check(1e-6, 1e-6);
    SessionOptions o;
    o.threads = 2;
    const auto stats = Session(t.g, o).plan_stats(t.inputs);
    CHECK(stats.reference_steps == 0);
    // oneDNN's jit where it takes the broadcast, else bnfold's loop: never its reference kernel.
    for (const auto& impl : stats.step_implementations) CHECK(impl != "ref:any");
  }
}

TEST_CASE("an inference Dropout whose mask nothing reads is a view, not a copy", "[kernels]") {
  Case t;
  Value* x = t.node("Relu", {t.input("x", {2, 3, 4})});
  Node* d = t.g->add_node("Dropout", {x}, {"y", "mask"}, "drop");
  t.output(t.node("Relu", {d->output(0)}));
  const auto steps = t.check();
  CHECK_FALSE(contains(steps, "Dropout"));
  CHECK(reference_steps(t) == 0);
}

TEST_CASE("Slice with positive steps (Swin's patch merging) is a strided oneDNN copy, on any input layout",
          "[kernels]") {
  auto i64 = [](std::vector<int64_t> v) {
    Tensor t(DType::Int64, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.mutable_data_as<int64_t>());
    return t;
  };
  struct Spec {
    std::vector<int64_t> starts, ends, axes, steps;
    bool after_conv;  // a blocked input
  };
  const Spec specs[] = {
      {{0, 1}, {INT64_MAX, INT64_MAX}, {1, 2}, {2, 2}, false},  // x[:, 1::2, 0::2, :] as patch merging writes it
      {{1, 0, 2}, {7, 5, 9}, {1, 2, 3}, {3, 2, 2}, false},
      {{0}, {INT64_MAX}, {1}, {2}, true},                      // every other channel of a conv's output
      {{-1}, {-8}, {2}, {-2}, false},                          // a negative step: the reference kernel
  };
  for (const auto& s : specs) {
    CAPTURE(s.starts, s.steps, s.after_conv);
    Case t;
    Value* x = s.after_conv ? t.node("Conv", {t.input("x", {2, 16, 7, 9}), t.weight("w", {16, 16, 1, 1})})
                            : t.node("Relu", {t.input("x", {2, 7, 9, 10})});
    std::vector<Value*> in = {x};
    int k = 0;
    for (const auto* v : {&s.starts, &s.ends, &s.axes, &s.steps})
      in.push_back(t.g->add_constant("c" + std::to_string(k++), i64(*v)));
    t.output(t.node("Slice", in));
    // A copy is exact; a Conv before it rounds differently from the reference kernel.
    const auto steps = s.after_conv ? t.check(1e-5, 1e-5) : t.check(0, 0);
    const bool negative = s.steps.back() < 0;
    CHECK(contains(steps, "Slice (oneDNN)") == !negative);
    CHECK(contains(steps, "Slice (reference)") == negative);
  }
}

// Whether oneDNN offers a matmul [b, h, t, k] x [b, h, k, t] with a binary
// add of a [1, h, t, t] constant in a kernel that is not its reference path,
// asked here directly (it does without broadcasting on oneDNN 2.6's brgemm
// matmul, not when the batch repeats the constant).
bool offers_bias_matmul(int64_t b, int64_t h, int64_t t, int64_t k) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  rt::set_dnnl_threads(2);
  dnnl::post_ops ops;
  ops.append_binary(dnnl::algorithm::binary_add, dnnl::memory::desc({1, h, t, t}, dt::f32, tag::abcd));
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  attr.set_post_ops(ops);
  try {
    dnnl::matmul::desc d(dnnl::memory::desc({b, h, t, k}, dt::f32, tag::abcd),
                         dnnl::memory::desc({b, h, k, t}, dt::f32, tag::abcd),
                         dnnl::memory::desc({b, h, t, t}, dt::f32, tag::abcd));
    dnnl::matmul::primitive_desc pd(d, attr, rt::dnnl_engine());
    do {
      if (std::string(pd.impl_info_str()).rfind("ref", 0) != 0) return true;
    } while (pd.next_impl());
  } catch (const dnnl::error&) {
  }
  return false;
}

TEST_CASE("attention scores' position bias fuses into their MatMul where oneDNN offers a kernel for it",
          "[kernels][fusion]") {
  for (int64_t batch : {1, 3}) {
    CAPTURE(batch);
    Case t;  // q k^T + bias[1, heads, T, T], then Softmax, as Swin's window attention
    Value* q = t.input("q", {batch, 2, 7, 8});
    Value* k = t.input("k", {batch, 2, 8, 7});
    Value* scores = t.node("Add", {t.node("MatMul", {q, k}), t.weight("bias", {1, 2, 7, 7})});
    t.output(t.node("Softmax", {scores}, {{"axis", one(-1)}}));
    const auto steps = t.check(1e-4, 1e-5);
    const bool offered = offers_bias_matmul(batch, 2, 7, 8);
    INFO("oneDNN offers a kernel: " << offered);
    CHECK(contains(steps, "MatMul (oneDNN) + Add") == offered);
    CHECK(steps.size() == (offered ? 2u : 3u));
  }
}
