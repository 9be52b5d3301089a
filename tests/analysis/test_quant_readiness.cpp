// The int8 readiness report on constructed layers whose verdict is known:
// BN statistics that spread a depthwise layer's folded channel ranges (the
// MobileNetV2 failure of per-tensor int8), weights with in-channel outliers,
// and an ordinary layer.
#include <catch2/catch.hpp>

#include <cmath>

#include "bnfold/analysis/quant_readiness.hpp"
#include "bnfold/passes/fold.hpp"
#include "tests/analysis/readiness_layer.hpp"
#include "tests/model_builder.hpp"

using namespace bnfold;
using namespace bnfold::test;

TEST_CASE("int8 readiness: folded depthwise ranges that collapse per-tensor int8, outliers, ordinary layers",
          "[analysis][quantization]") {
  TestModel t;
  const int64_t C = 8;
  Value* x = t.input("x", {1, 3, 8, 8});
  Value* a = t.node("Relu", {t.bn(t.node("Conv", {x, t.weight("w0", {C, 3, 1, 1})}, "c0"), C, "bn0")});
  // Depthwise 3x3, then a BN whose gammas span 1e-3 .. 1 and whose channel 5 has a running variance of 1e-6:
  // folded, the channel ranges differ by about 1e3 and more.
  Value* dw = t.node("Conv", {a, t.weight("wdw", {C, 1, 3, 3})}, "dw",
                     {{"group", Attribute::of_int(C)}, {"pads", ints({1, 1, 1, 1})}});
  Value* gamma = t.g->add_constant("g1", filled({C}, [](int64_t c) { return std::pow(10.0f, -3.0f + 3.0f * c / 7); }));
  Value* var = t.g->add_constant("v1", filled({C}, [](int64_t c) { return c == 5 ? 1e-6f : 1.0f; }));
  Value* bn1 = t.node("BatchNormalization", {dw, gamma, t.weight("b1", {C}), t.weight("m1", {C}), var}, "bn1",
                      {{"epsilon", Attribute::of_float(1e-5f)}});
  Value* r1 = t.node("Relu", {bn1});
  Value* pw = t.node("Conv", {r1, t.weight("wpw", {4, C, 1, 1})}, "pw");
  // The same spread with nothing after it to equalize with: per-channel scales are the only remedy.
  Value* dw2 = t.node("Conv", {pw, t.g->add_constant("wdw2", filled({4, 1, 3, 3}, [](int64_t i) {
                                 return (i % 3 - 1.0f) * std::pow(10.0f, -3.0f + static_cast<float>(i / 9)); }))},
                      "dw2", {{"group", Attribute::of_int(4)}, {"pads", ints({1, 1, 1, 1})}});
  t.output(dw2);
  // Each output column one weight of 1000 over 2047 of 4 to 6 (a transformer-style outlier): at the step 1000
  // sets, the many mid-sized weights all land one step off, per tensor or per channel (about 18 dB).
  Value* outlier = t.node("Gemm", {t.input("v", {2, 2048}), t.g->add_constant("wout", filled({2048, 4}, [](int64_t i) {
                                     return i / 4 == 100 ? 1000.0f : 4.0f + 2.0f * static_cast<float>(i % 7) / 6; }))},
                          "outlier");
  t.output(outlier);

  REQUIRE(fold_batchnorms(*t.g).folded() == 2);
  const auto r = quantization_readiness(*t.g);
  REQUIRE(r.size() == 5);

  const auto& first = layer(r, "c0_node");
  CHECK(first.verdict == QuantVerdict::PerTensorSafe);
  CHECK(first.sqnr_tensor_db >= 30);
  CHECK(first.bn == "bn0_node");

  const auto& d = layer(r, "dw_node");
  CHECK(d.depthwise);
  CHECK(d.range_ratio > 1e3);
  CHECK(d.collapsed >= 2);  // gamma 1e-3 and 2.7e-3 against the 1e3-inflated channel 5
  CHECK(d.sqnr_tensor_db < 30);
  CHECK(d.sqnr_channel_db >= 30);
  CHECK(d.verdict == QuantVerdict::NeedsEqualization);
  CHECK(d.equalize_with == "pw_node");  // through the ReLU
  CHECK(d.inflated == std::vector<int64_t>{5});
  CHECK(d.bn == "bn1_node");
  CHECK(d.act_low >= 0);  // a ReLU follows: the range starts at 0
  CHECK_THAT(d.why, Catch::Contains("tiny running variance"));

  const auto& last = layer(r, "dw2_node");
  CHECK(last.verdict == QuantVerdict::NeedsPerChannel);
  CHECK(last.equalize_with.empty());
  CHECK(last.range_ratio == Approx(1e3).epsilon(1e-3));

  const auto& o = layer(r, "outlier_node");
  CHECK(o.verdict == QuantVerdict::KeepFp32);
  CHECK(o.sqnr_channel_db < 30);
}
