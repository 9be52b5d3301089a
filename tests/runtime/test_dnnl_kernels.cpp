// Every oneDNN kernel against the reference kernel on awkward shapes: odd
// channel counts, groups, asymmetric pads, strides, dilations, broadcasting.
// Each case also checks that the oneDNN path really ran (or, where oneDNN
// cannot serve, that the reference kernel took over).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
#include "tests/model_builder.hpp"
#include "tests/runtime/dnnl_case.hpp"

using namespace bnfold;
using namespace bnfold::test;

TEST_CASE("Conv: odd channels, groups, depthwise, asymmetric pads, strides, dilations", "[kernels][conv]") {
  struct Spec {
    int64_t n, c, h, w, m, k, group;
    std::vector<int64_t> pads, strides, dilations;
    bool bias;
  };
  const Spec specs[] = {
      {1, 3, 7, 9, 5, 3, 1, {1, 1, 1, 1}, {1, 1}, {1, 1}, true},
      {2, 6, 11, 10, 9, 3, 3, {0, 1, 2, 0}, {2, 3}, {1, 1}, false},
      {3, 7, 9, 9, 7, 3, 7, {1, 1, 1, 1}, {1, 1}, {2, 1}, true},   // depthwise, dilated
      {1, 5, 13, 6, 14, 5, 1, {2, 0, 1, 3}, {2, 1}, {1, 2}, true},
      {2, 16, 8, 8, 32, 1, 1, {0, 0, 0, 0}, {1, 1}, {1, 1}, false},  // 1x1
  };
  for (const auto& s : specs) {
    Case t;
    std::vector<Value*> in = {t.input("x", {s.n, s.c, s.h, s.w}), t.weight("w", {s.m, s.c / s.group, s.k, s.k})};
    if (s.bias) in.push_back(t.weight("b", {s.m}));
    t.output(t.node("Conv", in,
                    {{"group", one(s.group)}, {"pads", ints(s.pads)}, {"strides", ints(s.strides)},
                     {"dilations", ints(s.dilations)}, {"kernel_shape", ints({s.k, s.k})}}));
    CHECK(contains(t.check(), "Conv (oneDNN)"));
  }
}

TEST_CASE("Conv: auto_pad, 1-D and 3-D", "[kernels][conv]") {
  for (const char* pad : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    Case t;
    t.output(t.node("Conv", {t.input("x", {1, 3, 8, 7}), t.weight("w", {4, 3, 4, 3})},
                    {{"auto_pad", text(pad)}, {"strides", ints({2, 2})}}));
    CHECK(contains(t.check(), "Conv (oneDNN)"));
  }
  Case c1;
  c1.output(c1.node("Conv", {c1.input("x", {2, 3, 17}), c1.weight("w", {5, 3, 4}), c1.weight("b", {5})},
                    {{"pads", ints({2, 1})}, {"strides", ints({3})}}));
  CHECK(contains(c1.check(), "Conv (oneDNN)"));
  Case c3;
  c3.output(c3.node("Conv", {c3.input("x", {1, 4, 5, 6, 7}), c3.weight("w", {6, 2, 3, 3, 3})},
                    {{"group", one(2)}, {"pads", ints({1, 0, 1, 0, 1, 1})}}));
  CHECK(contains(c3.check(), "Conv (oneDNN)"));
}

TEST_CASE("a residual Add sums into the residual's bytes when nothing reads them later, else into a copy",
          "[kernels][fusion]") {
  {  // resnet's pattern: x (a conv's, blocked) feeds a conv chain and the Add, which comes last
    Case t;
    Value* x = t.node("Relu", {t.node("Conv", {t.input("in", {2, 8, 6, 6}), t.weight("w0", {16, 8, 1, 1})})});
    Value* c1 = t.node("Relu", {t.node("Conv", {x, t.weight("w1", {16, 16, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}})});
    Value* c2 = t.node("Conv", {c1, t.weight("w2", {16, 16, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
    t.output(t.node("Relu", {t.node("Add", {c2, x})}));
    const auto steps = t.check();
    CHECK(contains(steps, "Conv (oneDNN) + Add + Relu"));
    CHECK_FALSE(contains(steps, "residual copy"));
  }
  {  // x read after the Add too: the sum goes into a copy
    Case t;
    Value* x = t.node("Relu", {t.input("in", {2, 16, 6, 6})});
    Value* c = t.node("Conv", {x, t.weight("w", {16, 16, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
    Value* sum = t.node("Add", {c, x});
    t.output(t.node("Mul", {sum, t.node("Sigmoid", {x})}));
    CHECK(contains(t.check(), "residual copy"));
  }
  {  // x -> Conv -> Add(x): the conv reads x, so it cannot sum into it
    Case t;
    Value* x = t.node("Relu", {t.input("in", {1, 16, 5, 5})});
    t.output(t.node("Add", {t.node("Conv", {x, t.weight("w", {16, 16, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}}), x}));
    t.check();
  }
}

TEST_CASE("x * Sigmoid(x) and x * HardSigmoid(x) become SiLU and HardSwish, fused or alone", "[kernels][fusion]") {
  for (const char* gate : {"Sigmoid", "HardSigmoid"}) {
    const std::vector<std::pair<std::string, Attribute>> attrs =
        std::string(gate) == "HardSigmoid"
            ? std::vector<std::pair<std::string, Attribute>>{{"alpha", real(1.0f / 6)}, {"beta", real(0.5f)}}
            : std::vector<std::pair<std::string, Attribute>>{};
    const std::string as = std::string(gate) == "Sigmoid" ? "SiLU" : "HardSwish";
    INFO(gate);
    Case fused;  // after a Conv: one post-op, the gate and the Mul absorbed
    Value* c = fused.node("Conv", {fused.input("x", {2, 12, 5, 5}), fused.weight("w", {12, 12, 3, 3})},
                          {{"pads", ints({1, 1, 1, 1})}});
    fused.output(fused.node("Relu", {fused.node("Mul", {fused.node(gate, {c}, attrs), c})}));
    const auto steps = fused.check();
    CHECK(contains(steps, "Conv (oneDNN) + " + as + " + Relu"));
    CHECK(steps.size() <= 3);  // the conv (and the reorders at the graph's edges)
    Case alone;  // on a graph input: one eltwise step computes the Mul's output
    Value* x = alone.input("x", {2, 7, 4, 4});
    alone.output(alone.node("Mul", {x, alone.node(gate, {x}, attrs)}));
    CHECK(contains(alone.check(), std::string(gate) + " (oneDNN) as " + as));
  }
  Case other;  // HardSigmoid with other constants is not HardSwish: linear + clip, two steps
  Value* x = other.input("x", {1, 5, 3, 3});
  other.output(other.node("Mul", {x, other.node("HardSigmoid", {x}, {{"alpha", real(0.2f)}, {"beta", real(0.5f)}})}));
  const auto steps = other.check();
  CHECK_FALSE(contains(steps, "HardSwish"));
  CHECK(contains(steps, "HardSigmoid (oneDNN)"));
}

TEST_CASE("a per-channel Mul+Add (a BN kept as scale-shift) fuses into its producer or runs as one step",
          "[kernels][fusion]") {
  Case t;
  Value* c = t.node("Conv", {t.input("x", {2, 19, 7, 7}), t.weight("w", {19, 19, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
  Value* m = t.node("Mul", {c, t.weight("s", {19, 1, 1})});
  t.output(t.node("Relu", {t.node("Add", {m, t.weight("b", {1, 19, 1, 1})})}));
  CHECK(contains(t.check(), "Conv (oneDNN) + Mul + Add + Relu"));

  Case shared;  // the producer's output has a second consumer: Mul+Add+Relu become one binary step
  Value* x = shared.input("x", {2, 5, 4, 4});
  Value* r = shared.node("Relu", {x});
  Value* m2 = shared.node("Mul", {r, shared.weight("s", {5, 1, 1})});
  shared.output(shared.node("Relu", {shared.node("Sub", {m2, shared.weight("b", {5, 1, 1})})}));
  shared.output(r);
  CHECK(contains(shared.check(), "Mul (oneDNN) + Sub + Relu"));
}

TEST_CASE("ConvTranspose: groups, strides, output_padding, output_shape", "[kernels][convtranspose]") {
  {
    Case t;
    t.output(t.node("ConvTranspose", {t.input("x", {2, 4, 5, 6}), t.weight("w", {4, 3, 3, 3}), t.weight("b", {6})},
                    {{"group", one(2)}, {"strides", ints({2, 2})}, {"pads", ints({1, 0, 0, 1})},
                     {"output_padding", ints({1, 0})}}));
    CHECK(contains(t.check(), "ConvTranspose (oneDNN)"));
  }
  {
    Case t;
    t.output(t.node("ConvTranspose", {t.input("x", {1, 3, 4, 4}), t.weight("w", {3, 5, 4, 4})},
                    {{"strides", ints({2, 2})}, {"output_shape", ints({9, 8})}}));
    t.check();  // oneDNN or reference: the result must match either way
  }
  {
    Case t;
    t.output(t.node("ConvTranspose", {t.input("x", {1, 6, 7}), t.weight("w", {6, 1, 3})},
                    {{"group", one(6)}, {"strides", ints({3})}, {"dilations", ints({2})}}));
    CHECK(contains(t.check(), "ConvTranspose (oneDNN)"));
  }
}

TEST_CASE("Gemm: transB, alpha, beta, optional C", "[kernels][gemm]") {
  for (int trans_b : {0, 1}) {
    for (int with_c : {0, 1, 2}) {
      Case t;
      std::vector<Value*> in = {t.input("a", {5, 7}), t.weight("b", trans_b ? std::vector<int64_t>{3, 7}
                                                                            : std::vector<int64_t>{7, 3})};
      if (with_c == 1) in.push_back(t.weight("c", {3}));
      if (with_c == 2) in.push_back(t.weight("c", {1, 3}));
      t.output(t.node("Relu", {t.node("Gemm", in, {{"transB", one(trans_b)}, {"alpha", real(0.7f)},
                                                   {"beta", real(1.5f)}})}));
      CHECK(contains(t.check(), "Gemm (oneDNN) + Relu"));
    }
  }
  Case fallback;  // transA and a full-matrix C: the reference kernel
  fallback.output(fallback.node("Gemm", {fallback.input("a", {4, 3}), fallback.weight("b", {4, 2}),
                                         fallback.weight("c", {3, 2})},
                                {{"transA", one(1)}}));
  CHECK(contains(fallback.check(), "Gemm (reference)"));
}

TEST_CASE("Gemm with 64 MB of weights and more reads them in place beyond two rows", "[kernels][gemm]") {
  for (int trans_b : {0, 1}) {
    CAPTURE(trans_b);
    Case t;
    const int64_t K = 4099, N = 4097;  // 67 MB
    Value* a = t.input("a", {3, K});
    Value* w = t.weight("b", trans_b ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N});
    t.output(t.node("Relu", {t.node("Gemm", {a, w, t.weight("c", {N})}, {{"transB", one(trans_b)}})}));
    t.output(t.node("Gemm", {a, w}, {{"transB", one(trans_b)}, {"alpha", real(0.5f)}}));  // scaled: a copy
    // Sums of 4099 products of values in [-1, 1].
    const auto steps = t.check(1e-4, 1e-4);
    CHECK(contains(steps, "Gemm (oneDNN) + Relu (weights not copied)"));
    CHECK(std::count(steps.begin(), steps.end(), "Gemm (oneDNN)") == 1);
  }
}

TEST_CASE("MatMul: 2-D, batched A with constant B, broadcast batch", "[kernels][matmul]") {
  Case a;
  a.output(a.node("MatMul", {a.input("a", {2, 3, 5, 4}), a.weight("b", {4, 6})}));
  CHECK(contains(a.check(), "MatMul (oneDNN)"));
  Case b;
  b.output(b.node("MatMul", {b.input("a", {2, 1, 3, 4}), b.input("b", {5, 4, 6})}));
  CHECK(contains(b.check(), "MatMul (oneDNN)"));
  Case v;  // a vector operand: the reference kernel
  v.output(v.node("MatMul", {v.input("a", {4}), v.input("b", {3, 4, 2})}));
  CHECK(contains(v.check(), "MatMul (reference)"));
}

TEST_CASE("BatchNormalization on a blocked conv output", "[kernels][batchnorm]") {
  Case t;
  Value* c = t.node("Conv", {t.input("x", {2, 19, 6, 5}), t.weight("w", {19, 19, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
  t.output(t.node("BatchNormalization",
                  {c, t.weight("s", {19}), t.weight("b", {19}), t.weight("m", {19}), t.positive("v", {19})},
                  {{"epsilon", real(1e-3f)}}));
  CHECK(contains(t.check(), "BatchNormalization (oneDNN)"));
}

TEST_CASE("Pooling: pads, ceil_mode, dilations, count_include_pad, global", "[kernels][pool]") {
  struct Spec {
    const char* op;
    std::vector<int64_t> k, pads, strides;
    int ceil, include_pad;
    std::vector<int64_t> dilations;
  };
  const Spec specs[] = {
      {"MaxPool", {3, 3}, {1, 0, 1, 2}, {2, 2}, 0, 0, {1, 1}},
      {"MaxPool", {3, 2}, {0, 0, 0, 0}, {2, 2}, 1, 0, {1, 1}},
      {"MaxPool", {2, 2}, {1, 1, 1, 1}, {1, 1}, 0, 0, {2, 2}},
      {"AveragePool", {3, 3}, {1, 1, 1, 1}, {2, 2}, 0, 1, {}},
      {"AveragePool", {3, 3}, {1, 1, 1, 1}, {2, 2}, 0, 0, {}},
      {"AveragePool", {3, 3}, {0, 0, 0, 0}, {2, 2}, 1, 0, {}},
      {"AveragePool", {3, 3}, {1, 1, 1, 1}, {2, 2}, 1, 1, {}},  // extra ceil padding must not count
  };
  for (const auto& s : specs) {
    Case t;
    std::vector<std::pair<std::string, Attribute>> attrs = {
        {"kernel_shape", ints(s.k)}, {"pads", ints(s.pads)}, {"strides", ints(s.strides)}, {"ceil_mode", one(s.ceil)}};
    if (std::string(s.op) == "AveragePool") attrs.push_back({"count_include_pad", one(s.include_pad)});
    else attrs.push_back({"dilations", ints(s.dilations)});
    Value* c = t.node("Conv", {t.input("x", {2, 5, 10, 11}), t.weight("w", {5, 5, 1, 1})});
    t.output(t.node(s.op, {c}, attrs));
    INFO(s.op << " ceil " << s.ceil << " include_pad " << s.include_pad);
    t.check();
  }
  for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
    Case t;
    t.output(t.node(op, {t.input("x", {3, 7, 5, 6})}));
    CHECK(contains(t.check(), std::string(op) + " (oneDNN)"));
  }
}

TEST_CASE("Pool windows larger than the padded input give what ONNX Runtime gives", "[kernels][pool][ort]") {
  // Expected values recorded from onnxruntime-node 1.30 (tests/models/
  // test_pool_rules.py compares a grid of such cases live when ORT is there).
  struct Spec {
    const char* op;
    std::vector<int64_t> in, k, s, pads;
    int ceil, include_pad;
    std::vector<float> want;  // on x = 1, 2, 3, ...
  };
  const Spec specs[] = {
      {"AveragePool", {1}, {2}, {2}, {0, 0}, 0, 1, {0.5f}},  // divides by the whole window
      {"AveragePool", {1}, {2}, {2}, {0, 0}, 1, 1, {1.0f}},  // with ceil_mode, by input + pads
      {"AveragePool", {1}, {3}, {2}, {1, 0}, 0, 1, {1.0f / 3}},
      {"AveragePool", {1}, {3}, {2}, {1, 0}, 1, 1, {0.5f}},
      {"AveragePool", {2}, {3}, {3}, {0, 0}, 0, 0, {1.5f}},
      {"MaxPool", {1}, {2}, {2}, {0, 0}, 0, 0, {1.0f}},
      {"MaxPool", {1, 3}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 0, 0, {2.0f}},  // the paddle2onnx OCR case
      {"AveragePool", {1}, {2}, {1}, {0, 0}, 0, 0, {}},                   // an empty output
  };
  for (const auto& sp : specs) {
    for (bool onednn : {true, false}) {
      test::TestModel t;
      std::vector<int64_t> dims = {1, 1};
      dims.insert(dims.end(), sp.in.begin(), sp.in.end());
      Value* x = t.input("x", dims);
      float* px = t.inputs["x"].mutable_data_as<float>();
      for (int64_t i = 0; i < t.inputs["x"].numel(); ++i) px[i] = static_cast<float>(i + 1);
      std::vector<std::pair<std::string, Attribute>> attrs = {
          {"kernel_shape", ints(sp.k)}, {"strides", ints(sp.s)}, {"pads", ints(sp.pads)}, {"ceil_mode", one(sp.ceil)}};
      if (std::string(sp.op) == "AveragePool") attrs.push_back({"count_include_pad", one(sp.include_pad)});
      t.output(t.node(sp.op, {x}, "y", attrs));
      SessionOptions o;
      o.use_onednn = onednn;
      const Tensor y = Session(t.g, o).run(t.inputs).at("y");
      INFO(sp.op << " in " << Shape::of(sp.in).str() << " ceil " << sp.ceil << " include_pad " << sp.include_pad
                 << " onednn " << onednn);
      REQUIRE(y.numel() == static_cast<int64_t>(sp.want.size()));
      for (size_t i = 0; i < sp.want.size(); ++i) CHECK(y.data_as<float>()[i] == Approx(sp.want[i]).epsilon(1e-6));
    }
  }
  // Resize align_corners with scales 0.6 on a 2x4 input 1..8 (ONNX's conformance
  // case resize_downsample_scales_linear_align_corners): ORT gives [1, 4].
  {
    test::TestModel r;
    Value* x = r.input("x", {1, 1, 2, 4});
    for (int64_t i = 0; i < 8; ++i) r.inputs["x"].mutable_data_as<float>()[i] = static_cast<float>(i + 1);
    Tensor scales(DType::Float32, {4});
    const float sv[] = {1, 1, 0.6f, 0.6f};
    std::copy(sv, sv + 4, scales.mutable_data_as<float>());
    r.output(r.node("Resize", {x, r.g->add_constant("roi", Tensor(DType::Float32, {0})), r.g->add_constant("s", scales)},
                    "y", {{"mode", text("linear")}, {"coordinate_transformation_mode", text("align_corners")}}));
    const Tensor y = Session(r.g).run(r.inputs).at("y");
    REQUIRE(y.numel() == 2);
    CHECK(y.data_as<float>()[0] == Approx(1.0f));
    CHECK(y.data_as<float>()[1] == Approx(4.0f));
  }
  // A negative size is refused, as ORT refuses it; so is a Conv window larger than its input.
  test::TestModel t;
  Value* x = t.input("x", {1, 1, 1});
  t.output(t.node("AveragePool", {x}, "y", {{"kernel_shape", ints({3})}}));
  CHECK_THROWS_WITH(Session(t.g).run(t.inputs), Catch::Matchers::Contains("the window (3) is larger than the padded input (1)"));
  test::TestModel c;
  c.output(c.node("Conv", {c.input("x", {1, 1, 1}), c.weight("w", {1, 1, 2})}, "y", {{"strides", ints({2})}}));
  CHECK_THROWS_WITH(Session(c.g).run(c.inputs), Catch::Matchers::Contains("the window (2) is larger than the padded input (1)"));
}

TEST_CASE("Element-wise activations", "[kernels][eltwise]") {
  for (const char* op : {"Relu", "LeakyRelu", "Elu", "Tanh", "Sigmoid", "Softplus", "HardSwish", "Exp", "Abs"}) {
    Case t(14);  // HardSwish exists from opset 14
    t.output(t.node(op, {t.input("x", {2, 3, 5, 7})}));
    INFO(op);
    // oneDNN's binary, or bnfold's loop where oneDNN offers only its reference kernel (Div under AVX2).
    const auto steps = t.check();
    CHECK((contains(steps, std::string(op) + " (oneDNN)") || contains(steps, std::string(op) + " (bnfold)")));
  }
}

TEST_CASE("Binary ops with broadcasting, on blocked inputs", "[kernels][binary]") {
  for (const char* op : {"Add", "Mul", "Sub", "Div", "Max", "Min"}) {
    Case t;
    Value* c = t.node("Conv", {t.input("x", {2, 17, 5, 5}), t.weight("w", {17, 17, 1, 1})});
    Value* s = t.positive("s", {17, 1, 1});
    t.output(t.node(op, {c, s}));
    t.output(c);  // a second use keeps the op out of the conv: a binary step on a blocked input
    INFO(op);
    // oneDNN's binary, or bnfold's loop where oneDNN offers only its reference kernel (Div under AVX2).
    const auto steps = t.check();
    CHECK((contains(steps, std::string(op) + " (oneDNN)") || contains(steps, std::string(op) + " (bnfold)")));
  }
  Case swapped;  // the broadcast operand first: commutative, so swapped
  swapped.output(swapped.node("Mul", {swapped.input("s", {1, 4, 1, 1}), swapped.input("x", {2, 4, 3, 3})}));
  CHECK(contains(swapped.check(), "Mul (oneDNN)"));
  Case sub;  // not commutative, so oneDNN cannot take it (only its second operand broadcasts): bnfold's loop
  sub.output(sub.node("Sub", {sub.input("s", {4, 1, 1}), sub.input("x", {2, 4, 3, 3})}));
  CHECK(contains(sub.check(), "Sub (bnfold)"));
}

TEST_CASE("Softmax and LogSoftmax, old and new axis semantics", "[kernels][softmax]") {
  for (int64_t opset : {11, 13}) {
    for (const char* op : {"Softmax", "LogSoftmax"}) {
      for (int64_t axis : {-1, 1}) {
        Case t(opset);
        t.output(t.node(op, {t.input("x", {3, 4, 5})}, {{"axis", one(axis)}}));
        CHECK(contains(t.check(), std::string(op) + " (oneDNN)"));
      }
    }
  }
}

TEST_CASE("LRN and ReduceMean", "[kernels][lrn][reduce]") {
  Case l;
  l.output(l.node("LRN", {l.input("x", {2, 9, 4, 4})}, {{"size", one(5)}, {"alpha", real(1e-3f)}, {"beta", real(0.75f)}}));
  CHECK(contains(l.check(), "LRN (oneDNN)"));
  Case even;  // an even window is asymmetric in ONNX: the reference kernel
  even.output(even.node("LRN", {even.input("x", {1, 6, 3, 3})}, {{"size", one(4)}}));
  CHECK(contains(even.check(), "LRN (reference)"));
  Case r(11);
  r.output(r.node("ReduceMean", {r.input("x", {2, 5, 4, 3})}, {{"axes", ints({2, 3})}}));
  CHECK(contains(r.check(), "ReduceMean (oneDNN)"));
}

TEST_CASE("LayerNormalization on every axis with and without bias, its statistics outputs by the reference kernel",
          "[kernels][layer_norm]") {
  for (int64_t axis : {-1, 2, 1, 0}) {
    for (bool bias : {true, false}) {
      Case t(17);
      const std::vector<int64_t> x = {3, 5, 7, 6};
      std::vector<int64_t> inner(x.begin() + (axis < 0 ? axis + 4 : axis), x.end());
      std::vector<Value*> in = {t.input("x", x), t.weight("scale", inner)};
      if (bias) in.push_back(t.weight("bias", inner));
      t.output(t.node("LayerNormalization", in, {{"axis", one(axis)}, {"epsilon", real(1e-3f)}}));
      CHECK(contains(t.check(), "LayerNormalization (oneDNN)"));
    }
  }
  Case stats(17);  // the mean and inverse std asked for: the reference kernel
  Node* n = stats.g->add_node("LayerNormalization", {stats.input("x", {2, 4, 3}), stats.weight("scale", {3})},
                              {"y", "mean", "inv_std"}, "ln");
  stats.output(n->output(0));
  stats.output(n->output(1));
  CHECK(contains(stats.check(), "LayerNormalization (reference)"));
}
