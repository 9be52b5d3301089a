// QDQ convolutions, Gemms and MatMuls on oneDNN's int8 kernels against the reference kernels,
// which run QuantizeLinear -> DequantizeLinear -> float32 Conv as written,
// on awkward shapes: odd channels, groups, depthwise, asymmetric pads,
// strides, dilations, 1x1; uint8 data with and without a zero point, int8
// data; one weight scale or one per channel; with and without bias; a
// ReLU fused after. The two compute the same integers (int32 sums, scaled
// once in float), so they agree to float32 rounding.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "bnfold/runtime/session.hpp"
#include "tests/model_builder.hpp"
#include "runtime/dnnl/dnnl_int8.hpp"
#include "tests/runtime/dnnl_case.hpp"

using namespace bnfold;
using namespace bnfold::test;

namespace {

Tensor scalar(DType t, double v) {
  Tensor s(t, {});
  if (t == DType::Float32) s.mutable_data_as<float>()[0] = static_cast<float>(v);
  else if (t == DType::UInt8) s.mutable_data_as<uint8_t>()[0] = static_cast<uint8_t>(v);
  else s.mutable_data_as<int8_t>()[0] = static_cast<int8_t>(v);
  return s;
}

struct Spec {
  int64_t n, c, h, w, m, k, group;
  std::vector<int64_t> pads, strides, dilations;
  bool bias, per_channel, relu;
  DType data;  // UInt8 or Int8
  int zero_point;
  int weight_zero_point;  // non-zero: not an int8 convolution's form (the float path, after deferring its input)
};

// x -> Q -> DQ -> Conv(DQ(int8 weights)) [-> Relu]; returns the model.
Case qdq_conv(const Spec& s) {
  Case t;
  Value* x = t.input("x", {s.n, s.c, s.h, s.w});
  Value* xs = t.g->add_constant("xs", scalar(DType::Float32, 0.021));
  Value* xz = t.g->add_constant("xz", scalar(s.data, s.zero_point));
  Value* xq = t.node("QuantizeLinear", {x, xs, xz}, "xq");
  Value* xd = t.node("DequantizeLinear", {xq, xs, xz}, "xd");
  const std::vector<int64_t> wd = {s.m, s.c / s.group, s.k, s.k};
  Tensor wq(DType::Int8, wd);
  for (int64_t i = 0; i < wq.numel(); ++i) wq.mutable_data_as<int8_t>()[i] = static_cast<int8_t>((i * 37 + 11) % 255 - 127);
  const int64_t scales = s.per_channel ? s.m : 1;
  Tensor ws(DType::Float32, s.per_channel ? std::vector<int64_t>{s.m} : std::vector<int64_t>{});
  Tensor wz(DType::Int8, s.per_channel ? std::vector<int64_t>{s.m} : std::vector<int64_t>{});
  for (int64_t c = 0; c < scales; ++c) {
    ws.mutable_data_as<float>()[c] = 0.002f + 0.0013f * static_cast<float>(c);
    wz.mutable_data_as<int8_t>()[c] = static_cast<int8_t>(s.weight_zero_point);
  }
  Value* wdq = t.node("DequantizeLinear", {t.g->add_constant("wq", std::move(wq)), t.g->add_constant("ws", std::move(ws)),
                                           t.g->add_constant("wz", std::move(wz))},
                      "wd", {{"axis", one(0)}});
  std::vector<Value*> in = {xd, wdq};
  if (s.bias) in.push_back(t.weight("b", {s.m}));
  Value* y = t.node("Conv", in,
                    {{"group", one(s.group)}, {"pads", ints(s.pads)}, {"strides", ints(s.strides)},
                     {"dilations", ints(s.dilations)}, {"kernel_shape", ints({s.k, s.k})}});
  t.output(s.relu ? t.node("Relu", {y}) : y);
  return t;
}

// Runs t on oneDNN (2 threads) and on the reference kernels, checks they
// agree (the int32 sums are exact, the scaling one float32 rounding) and that
// no step is a reference one; returns the plan's steps and adds its int8 steps to *int8_steps.
Session::PlanStats run_against_reference(const Case& t, int* int8_steps) {
  SessionOptions fast, ref;
  fast.threads = 2;
  ref.use_onednn = false;
  Session a(t.g, fast), b(t.g, ref);
  check_same_outputs(a.run(t.inputs), b.run(t.inputs), 1e-4, 1e-4);
  const auto stats = a.plan_stats(t.inputs);
  CHECK(stats.reference_steps == 0);
  for (const auto& why : stats.step_choices) *int8_steps += why.rfind("int8:", 0) == 0;
  return stats;
}

}  // namespace

TEST_CASE("int8 Conv of a QDQ model against the reference kernels on awkward shapes", "[kernels][int8]") {
  const Spec specs[] = {
      {1, 3, 7, 9, 5, 3, 1, {1, 1, 1, 1}, {1, 1}, {1, 1}, true, true, true, DType::UInt8, 131, 0},  // the input layer
      {2, 6, 11, 10, 9, 3, 3, {0, 1, 2, 0}, {2, 3}, {1, 1}, false, true, false, DType::UInt8, 0, 0},
      {3, 8, 9, 9, 8, 3, 8, {1, 1, 1, 1}, {1, 1}, {2, 1}, true, true, true, DType::UInt8, 0, 0},  // depthwise, dilated
      {1, 5, 13, 6, 14, 5, 1, {2, 0, 1, 3}, {2, 1}, {1, 2}, true, false, false, DType::Int8, 0, 0},
      {2, 16, 8, 8, 32, 1, 1, {0, 0, 0, 0}, {1, 1}, {1, 1}, true, true, true, DType::Int8, -5, 0},  // 1x1
      {2, 64, 14, 14, 64, 3, 1, {1, 1, 1, 1}, {1, 1}, {1, 1}, true, true, true, DType::UInt8, 0, 0},
      {1, 4, 6, 6, 4, 3, 1, {1, 1, 1, 1}, {1, 1}, {1, 1}, true, true, false, DType::UInt8, 0, 3},
  };
  int int8_steps = 0;
  for (const auto& s : specs) {
    CAPTURE(s.c, s.m, s.k, s.group, s.zero_point, static_cast<int>(s.data));
    Case t = qdq_conv(s);
    run_against_reference(t, &int8_steps);  // outputs reach about 10
  }
  // Where the CPU multiplies int8 exactly (VNNI, AMX) the int8 kernels are taken; elsewhere the float32 path
  // on the dequantized data (runtime/dnnl/dnnl_int8.hpp says why).
  if (rt::exact_int8_cpu()) CHECK(int8_steps >= 5);
  else CHECK(int8_steps == 0);
}

TEST_CASE("int8 Gemm of a QDQ model against the reference kernels", "[kernels][int8]") {
  int int8_steps = 0;
  for (int64_t rows : {1, 5}) {
    for (int trans_b : {0, 1}) {
      for (int zp : {0, 17}) {
        CAPTURE(rows, trans_b, zp);
        Case t;
        const int64_t K = 70, N = 33;
        Value* x = t.input("x", {rows, K});
        Value* xs = t.g->add_constant("xs", scalar(DType::Float32, 0.017));
        Value* xz = t.g->add_constant("xz", scalar(DType::UInt8, zp));
        Value* xd = t.node("DequantizeLinear", {t.node("QuantizeLinear", {x, xs, xz}), xs, xz});
        const std::vector<int64_t> wd = trans_b ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N};
        Tensor wq(DType::Int8, wd), ws(DType::Float32, {N}), wz(DType::Int8, {N});
        for (int64_t i = 0; i < wq.numel(); ++i) wq.mutable_data_as<int8_t>()[i] = static_cast<int8_t>((i * 53 + 7) % 255 - 127);
        for (int64_t c = 0; c < N; ++c) {
          ws.mutable_data_as<float>()[c] = 0.001f * static_cast<float>(c + 1);
          wz.mutable_data_as<int8_t>()[c] = 0;
        }
        Value* w = t.node("DequantizeLinear", {t.g->add_constant("wq", std::move(wq)), t.g->add_constant("ws", std::move(ws)),
                                               t.g->add_constant("wz", std::move(wz))},
                          {{"axis", one(trans_b ? 0 : 1)}});
        t.output(t.node("Relu", {t.node("Gemm", {xd, w, t.weight("c", {N})},
                                        {{"transB", one(trans_b)}, {"beta", real(1.5f)}})}));
        run_against_reference(t, &int8_steps);
      }
    }
  }
  if (rt::exact_int8_cpu()) CHECK(int8_steps == 8);  // zero points too (folded into the bias)
  else CHECK(int8_steps == 0);
}

TEST_CASE("an int8 Conv whose result only a QuantizeLinear reads writes the quantized output itself",
          "[kernels][int8]") {
  struct Act {
    const char* op;
    bool fuses;  // rescalable into the quantized domain
  };
  const Act acts[] = {{"Relu", true}, {"Clip", true}, {"LeakyRelu", true}, {"Sigmoid", false}};
  for (const Act& act : acts) {
    for (int zp : {0, 9}) {
      CAPTURE(act.op, zp);
      Spec s{2, 6, 9, 8, 10, 3, 1, {1, 1, 1, 1}, {1, 1}, {1, 1}, true, true, false, DType::UInt8, 0, 0};
      Case t = qdq_conv(s);
      // conv1's output (graph output so far) -> act -> Q -> DQ -> conv2
      Value* y = t.g->outputs()[0];
      std::vector<Value*> in = {y};
      if (std::string(act.op) == "Clip") {
        in.push_back(t.g->add_constant("lo", scalar(DType::Float32, 0)));
        in.push_back(t.g->add_constant("hi", scalar(DType::Float32, 1.5)));
      }
      Value* a = t.node(act.op, in, std::string(act.op) == "LeakyRelu"
                                        ? std::vector<std::pair<std::string, Attribute>>{{"alpha", real(0.1f)}}
                                        : std::vector<std::pair<std::string, Attribute>>{});
      Value* ys = t.g->add_constant("ys", scalar(DType::Float32, 0.013));
      Value* yz = t.g->add_constant("yz", scalar(DType::UInt8, zp));
      Value* yd = t.node("DequantizeLinear", {t.node("QuantizeLinear", {a, ys, yz}), ys, yz});
      Tensor w2(DType::Int8, {4, 10, 1, 1}), s2(DType::Float32, {4}), z2(DType::Int8, {4});
      for (int64_t i = 0; i < w2.numel(); ++i) w2.mutable_data_as<int8_t>()[i] = static_cast<int8_t>((i * 29) % 200 - 100);
      for (int64_t c = 0; c < 4; ++c) s2.mutable_data_as<float>()[c] = 0.01f, z2.mutable_data_as<int8_t>()[c] = 0;
      Value* w2d = t.node("DequantizeLinear", {t.g->add_constant("w2", std::move(w2)), t.g->add_constant("s2", std::move(s2)),
                                               t.g->add_constant("z2", std::move(z2))},
                          {{"axis", one(0)}});
      t.g->replace_output(0, t.node("Conv", {yd, w2d}));
      SessionOptions fast, ref;
      fast.threads = 2;
      ref.use_onednn = false;
      Session fs(t.g, fast), rs(t.g, ref);
      // One quantization step of the middle tensor (0.013) through 10 weights of up to 1.0 at most, where
      // oneDNN's single rounding of the scaled sum and the reference's two meet a tie differently.
      check_same_outputs(fs.run(t.inputs), rs.run(t.inputs), 1e-4, 0.015);
      const auto steps = fs.plan_stats(t.inputs).step_descriptions;
      const bool fused = std::any_of(steps.begin(), steps.end(), [](const std::string& d) {
        return d.find("+ QuantizeLinear") != std::string::npos;
      });
      CHECK(fused == (act.fuses && rt::exact_int8_cpu()));
    }
  }
}

TEST_CASE("int8 MatMul of a QDQ model (constant [K, N] weights) against the reference kernels", "[kernels][int8]") {
  struct MatMulSpec {
    std::vector<int64_t> a;  // [..., M, K]
    int64_t n;
    DType data;
    int zero_point;
    bool per_column, relu;  // relu: with a bias and GELU after it
  };
  const MatMulSpec specs[] = {
      {{2, 5, 70}, 33, DType::UInt8, 17, true, true},   // a transformer's [batch, tokens, features]
      {{5, 70}, 33, DType::UInt8, 0, true, false},
      {{1, 1, 9}, 3, DType::Int8, -3, false, true},     // one row, one weight scale
      {{3, 2, 4, 31}, 17, DType::Int8, 0, true, false},  // two leading dims folded into M
  };
  int int8_steps = 0;
  for (const auto& s : specs) {
    CAPTURE(s.a, s.n, s.zero_point, s.per_column);
    Case t;
    const int64_t K = s.a.back(), N = s.n;
    Value* x = t.input("x", s.a);
    Value* xs = t.g->add_constant("xs", scalar(DType::Float32, 0.019));
    Value* xz = t.g->add_constant("xz", scalar(s.data, s.zero_point));
    Value* xd = t.node("DequantizeLinear", {t.node("QuantizeLinear", {x, xs, xz}), xs, xz});
    const int64_t scales = s.per_column ? N : 1;
    Tensor wq(DType::Int8, {K, N});
    Tensor ws(DType::Float32, s.per_column ? std::vector<int64_t>{N} : std::vector<int64_t>{});
    for (int64_t i = 0; i < wq.numel(); ++i) wq.mutable_data_as<int8_t>()[i] = static_cast<int8_t>((i * 41 + 5) % 255 - 127);
    for (int64_t c = 0; c < scales; ++c) ws.mutable_data_as<float>()[c] = 0.0015f * static_cast<float>(c + 1);
    Value* w = t.node("DequantizeLinear", {t.g->add_constant("wq", std::move(wq)), t.g->add_constant("ws", std::move(ws))},
                      {{"axis", one(1)}});
    Value* y = t.node("MatMul", {xd, w});
    if (s.relu) {  // a Linear's bias and GELU (x * 0.5 * (1 + erf(x / sqrt 2))), fused as post-ops
      y = t.node("Add", {y, t.weight("b", {N})});
      Value* erf = t.node("Erf", {t.node("Div", {y, t.g->add_constant("r2", scalar(DType::Float32, M_SQRT2))})});
      Value* p = t.node("Add", {erf, t.g->add_constant("one", scalar(DType::Float32, 1))});
      y = t.node("Mul", {t.node("Mul", {y, p}), t.g->add_constant("half", scalar(DType::Float32, 0.5))});
    }
    t.output(y);
    const auto stats = run_against_reference(t, &int8_steps);
    if (rt::exact_int8_cpu() && s.relu) CHECK(contains(stats.step_descriptions, "MatMul (oneDNN) + Add + GELU"));
  }
  if (rt::exact_int8_cpu()) CHECK(int8_steps == 4);
  else CHECK(int8_steps == 0);
}
