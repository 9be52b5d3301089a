// Precision::BFloat16 against the float32 reference kernels on awkward
// shapes. Inputs and weights are rounded to bf16 first: the bf16 kernel's own
// conversions are then exact, and one compute node whose output is a graph
// output (written in float32) must agree with the reference up to the order
// of float32 sums. Chains round their intermediates to bf16 and get bf16's
// tolerance. A second run on the unrounded inputs shows bf16 really ran (it
// differs from float32 by bf16's rounding). On a CPU without native bf16,
// every case checks that Session refuses it instead.
#include <catch2/catch.hpp>

#include <cstring>

#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
#include "tests/model_builder.hpp"
#include "tests/runtime/dnnl_case.hpp"

using namespace bnfold;
using namespace bnfold::test;

namespace {

// Round to nearest even at bf16's 8 significant bits, as oneDNN's reorder does.
float to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000u;
  std::memcpy(&x, &u, 4);
  return x;
}

Tensor rounded(const Tensor& t) {
  Tensor r = t.clone();
  float* p = r.mutable_data_as<float>();
  for (int64_t i = 0; i < r.numel(); ++i) p[i] = to_bf16(p[i]);
  return r;
}

struct Bf16Case : Case {
  using Case::Case;

  // Returns the bf16 plan's steps; empty where the CPU has no bf16 (the
  // refusal checked instead). rtol/atol: against the reference on bf16-exact
  // data; `exact` cases must also differ from float32 on unrounded data.
  std::vector<std::string> check_bf16(double rtol, double atol, bool exact = true) {
    SessionOptions bf16, f32, ref;
    bf16.threads = f32.threads = 2;
    bf16.precision = Precision::BFloat16;
    ref.use_onednn = false;
    if (!bfloat16_support()) {
      CHECK_THROWS_WITH(Session(g, bf16), Catch::Contains("bf16") && Catch::Contains("AVX512-BF16"));
      return {};
    }
    const std::map<std::string, Tensor> raw = inputs;
    std::map<std::string, Tensor> exact_inputs;
    for (const auto& [name, t] : inputs) exact_inputs.emplace(name, rounded(t));
    for (Value* v : g->initializers())
      if (v->data().dtype() == DType::Float32) g->set_constant_data(v, rounded(v->data()));
    Session a(g, bf16), b(g, ref);
    check_same_outputs(a.run(exact_inputs), b.run(exact_inputs), rtol, atol);
    if (exact) {  // bf16 ran: unrounded inputs give float32's result only to bf16's precision
      const auto got = a.run(raw), want = Session(g, f32).run(raw);
      for (const auto& [name, t] : want) {
        const TensorDiff d = compare_tensors(got.at(name), t, 1e-6, 1e-6);
        INFO(name << ": max abs " << d.max_abs);
        CHECK(d.mismatches > 0);
        CHECK(d.max_abs < 0.05);
      }
    }
    const auto stats = a.plan_stats(exact_inputs);
    CHECK(stats.reference_steps == 0);
    return stats.step_descriptions;
  }
};

}  // namespace

TEST_CASE("bf16 Conv: odd channels, groups, depthwise, asymmetric pads, strides, dilations", "[kernels][bf16]") {
  struct Spec {
    int64_t n, c, h, w, m, k, group;
    std::vector<int64_t> pads, strides, dilations;
    bool bias;
  };
  const Spec specs[] = {
      {1, 3, 7, 9, 5, 3, 1, {1, 1, 1, 1}, {1, 1}, {1, 1}, true},
      {2, 6, 11, 10, 9, 3, 3, {0, 1, 2, 0}, {2, 3}, {1, 1}, false},
      {3, 7, 9, 9, 7, 3, 7, {1, 1, 1, 1}, {1, 1}, {2, 1}, true},  // depthwise, dilated
      {1, 5, 13, 6, 14, 5, 1, {2, 0, 1, 3}, {2, 1}, {1, 2}, true},
      {2, 16, 8, 8, 32, 1, 1, {0, 0, 0, 0}, {1, 1}, {1, 1}, false},  // 1x1
      {2, 64, 14, 14, 64, 3, 1, {1, 1, 1, 1}, {1, 1}, {1, 1}, true},  // where float32 would take Winograd
  };
  for (const auto& s : specs) {
    CAPTURE(s.c, s.m, s.k, s.group);
    Bf16Case t;
    std::vector<Value*> in = {t.input("x", {s.n, s.c, s.h, s.w}), t.weight("w", {s.m, s.c / s.group, s.k, s.k})};
    if (s.bias) in.push_back(t.weight("b", {s.m}));
    t.output(t.node("Conv", in,
                    {{"group", one(s.group)}, {"pads", ints(s.pads)}, {"strides", ints(s.strides)},
                     {"dilations", ints(s.dilations)}, {"kernel_shape", ints({s.k, s.k})}}));
    t.check_bf16(1e-4, 1e-4);
  }
}

TEST_CASE("bf16 ConvTranspose, Gemm and MatMul", "[kernels][bf16]") {
  {
    Bf16Case t;
    t.output(t.node("ConvTranspose", {t.input("x", {2, 4, 5, 6}), t.weight("w", {4, 3, 3, 3}), t.weight("b", {6})},
                    {{"group", one(2)}, {"strides", ints({2, 2})}, {"pads", ints({1, 0, 0, 1})},
                     {"output_padding", ints({1, 0})}}));
    t.check_bf16(1e-4, 1e-4);
  }
  for (int64_t rows : {1, 5}) {  // one row: plain weights; more: oneDNN's blocked layout
    for (int trans_b : {0, 1}) {
      CAPTURE(rows, trans_b);
      Bf16Case t;
      Value* w = t.weight("b", trans_b ? std::vector<int64_t>{33, 70} : std::vector<int64_t>{70, 33});
      // beta scales the bias, which stays float32; alpha would scale the weights before their rounding.
      t.output(t.node("Gemm", {t.input("a", {rows, 70}), w, t.weight("c", {33})},
                      {{"transB", one(trans_b)}, {"beta", real(1.5f)}}));
      t.check_bf16(1e-4, 1e-4);
    }
  }
  {
    Bf16Case t;  // alpha folded into the weights, then rounded: bf16's tolerance
    t.output(t.node("Gemm", {t.input("a", {3, 9}), t.weight("b", {9, 4})}, {{"alpha", real(0.7f)}}));
    t.check_bf16(2e-2, 2e-2, false);
  }
  {
    Bf16Case a;
    a.output(a.node("MatMul", {a.input("a", {2, 3, 5, 4}), a.weight("b", {4, 6})}));
    a.check_bf16(1e-4, 1e-4);
    Bf16Case b;  // two activations, broadcast batch
    b.output(b.node("MatMul", {b.input("a", {2, 1, 3, 4}), b.input("b", {5, 4, 6})}));
    b.check_bf16(1e-4, 1e-4);
  }
}

TEST_CASE("bf16 chains: BN, pooling, residual Add, Concat with a float32 operand, Flatten into Gemm",
          "[kernels][bf16]") {
  Bf16Case t;
  Value* x = t.input("x", {2, 5, 12, 11});
  Value* c0 = t.node("Relu", {t.bn(t.node("Conv", {x, t.weight("w0", {16, 5, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}}),
                                   16, "bn0")});
  Value* p = t.node("MaxPool", {c0}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  Value* c1 = t.node("Conv", {p, t.weight("w1", {16, 16, 3, 3}), t.weight("b1", {16})}, {{"pads", ints({1, 1, 1, 1})}});
  Value* sum = t.node("Relu", {t.node("Add", {c1, p})});
  // A bf16 tensor next to a float32 one (the pooled input, computed apart).
  Value* xp = t.node("AveragePool", {x}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  Value* cat = t.node("Concat", {sum, xp}, {{"axis", one(1)}});
  Value* g = t.node("GlobalAveragePool", {cat});
  Value* flat = t.node("Flatten", {g});
  t.output(t.node("Gemm", {flat, t.weight("fc", {4, 21}), t.weight("fcb", {4})}, {{"transB", one(1)}}));
  t.output(sum);  // an intermediate that is also an output: written as float32
  // The second convolution sums 144 products of bf16-rounded activations (up to about 8) and weights:
  // errors of about 2^-9 x 8 x sqrt(144) = 0.2 on outputs up to about 20 (0.12 measured).
  const auto steps = t.check_bf16(3e-2, 0.25, false);
  if (!steps.empty()) CHECK(contains(steps, "Conv (oneDNN)"));
}
