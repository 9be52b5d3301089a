// Cross-layer equalization: run before and after (the same outputs), the
// structure unchanged, the int8 readiness repaired on a depthwise layer whose
// folded ranges collapse per-tensor int8, and the folded BNs' monitoring
// records still mapping the rescaled values back to the BN inputs.
#include <catch2/catch.hpp>

#include <cmath>

#include "bnfold/analysis/quant_readiness.hpp"
#include "bnfold/graph/folded_bns.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/passes/pipeline.hpp"
#include "bnfold/runtime/session.hpp"
#include "tests/analysis/readiness_layer.hpp"
#include "tests/model_builder.hpp"

using namespace bnfold;
using namespace bnfold::test;

namespace {

// conv -> BN -> ReLU -> depthwise -> BN (gammas 1e-3..1, channel 5's variance 1e-6) -> ReLU -> 1x1 conv -> ReLU
// -> Flatten-free GlobalAveragePool -> Gemm: three pairs to equalize, the middle one the collapsing kind.
struct Chain : TestModel {
  Chain() {
    const int64_t C = 8;
    Value* x = input("x", {2, 3, 8, 8});
    Value* a = node("Relu", {bn(node("Conv", {x, weight("w0", {C, 3, 1, 1}), weight("b0", {C})}, "c0"), C, "bn0")});
    Value* dw = node("Conv", {a, weight("wdw", {C, 1, 3, 3})}, "dw",
                     {{"group", Attribute::of_int(C)}, {"pads", ints({1, 1, 1, 1})}});
    Value* gamma = g->add_constant("g1", filled({C}, [](int64_t c) { return std::pow(10.0f, -3.0f + 3.0f * c / 7); }));
    Value* var = g->add_constant("v1", filled({C}, [](int64_t c) { return c == 5 ? 1e-6f : 1.0f; }));
    Value* b1 = node("BatchNormalization", {dw, gamma, weight("beta1", {C}), weight("m1", {C}), var}, "bn1",
                     {{"epsilon", Attribute::of_float(1e-5f)}});
    Value* pw = node("Relu", {node("Conv", {node("Relu", {b1}), weight("wpw", {6, C, 1, 1}), weight("bpw", {6})}, "pw")});
    Value* pooled = node("Reshape", {node("GlobalAveragePool", {pw}), g->add_constant("shape", [] {
                                       Tensor s(DType::Int64, {2});
                                       s.mutable_data_as<int64_t>()[0] = 2;
                                       s.mutable_data_as<int64_t>()[1] = 6;
                                       return s;
                                     }())});
    Value* fc = node("Relu", {node("Gemm", {pooled, weight("wfc", {5, 6}), weight("bfc", {5})}, "fc",
                                   {{"transB", Attribute::of_int(1)}})});
    output(node("Gemm", {fc, weight("wout", {5, 3}), weight("bout", {3})}, "out"));
  }
};

}  // namespace

TEST_CASE("equalize keeps the function, evens a collapsing depthwise layer and keeps monitoring exact",
          "[passes][equalize]") {
  Chain m;
  REQUIRE(fold_batchnorms(*m.g).folded() == 2);
  const std::shared_ptr<Graph> before = clone_graph(*m.g);
  const auto r0 = quantization_readiness(*before);
  REQUIRE(layer(r0, "dw_node").verdict == QuantVerdict::NeedsEqualization);

  REQUIRE(make_pass("equalize")->run(*m.g));
  // Structure: the same nodes and values; only weights changed.
  REQUIRE(m.g->nodes().size() == before->nodes().size());
  for (size_t i = 0; i < m.g->nodes().size(); ++i) CHECK(m.g->nodes()[i]->op_type() == before->nodes()[i]->op_type());

  const auto r1 = quantization_readiness(*m.g);
  // The depthwise layer's folded ranges spanned 4e4x (gammas 1e-3..1, one variance of 1e-6) and per-tensor int8
  // zeroed channels; balanced with both neighbours (each pair to the geometric mean of its ranges) they span
  // about 30x: nothing collapses and the worst channels go from about 0 to 17 dB. That spread still needs per-channel
  // scales, and the report now says the pair is balanced instead of asking for equalization again.
  const auto& dw = layer(r1, "dw_node");
  const auto& dw0 = layer(r0, "dw_node");
  CHECK(dw0.collapsed >= 2);
  CHECK(dw.collapsed == 0);
  CHECK(dw0.sqnr_tensor_db < 3);  // collapsed channels: the error as large as the weights
  CHECK(dw.sqnr_tensor_db > dw0.sqnr_tensor_db + 15);
  CHECK(dw.range_ratio < dw0.range_ratio / 100);
  CHECK(dw.verdict == QuantVerdict::NeedsPerChannel);
  CHECK_THAT(dw.why, Catch::Contains("balanced with pw_node already"));
  for (const auto& l : r1) {
    INFO(l.node << ": " << l.why);
    CHECK(l.verdict != QuantVerdict::NeedsEqualization);
  }

  SessionOptions o;
  o.threads = 2;
  o.monitor_every = 1;
  Session a(before, o), b(m.g, o);
  for (uint32_t s = 0; s < 4; ++s) {
    const std::map<std::string, Tensor> in = {{"x", random_tensor({2, 3, 8, 8}, 40 + s, -1.f, 2.f)}};
    check_same_outputs(b.run(in), a.run(in), 1e-4, 1e-5);
  }
  // The records map the now rescaled layer outputs back to the same BN inputs.
  const MonitorSnapshot want = a.monitor(), got = b.monitor();
  REQUIRE(got.per_bn.size() == 2);
  for (const auto& [bn, w] : want.per_bn) {
    INFO(bn);
    REQUIRE(got.per_bn.count(bn));
    const auto gv = got.per_bn.at(bn).variance(), wv = w.variance();
    for (size_t c = 0; c < w.mean.size(); ++c) {
      // float32 runs of two differently scaled networks; a wrong mapping would be off by s_c (up to 30x).
      CHECK(std::fabs(got.per_bn.at(bn).mean[c] - w.mean[c]) <= 1e-3 * (std::fabs(w.mean[c]) + std::sqrt(wv[c])));
      CHECK(gv[c] == Approx(wv[c]).epsilon(1e-3));
    }
  }
  // Equalized once, there is nothing left to balance.
  CHECK_FALSE(make_pass("equalize")->run(*m.g));
}
