// summarize(): the facts `bnfold inspect` prints, on the bundled models.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "bnfold/graph/inspect.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"

using namespace bnfold;

namespace {

const std::string kModels = BNFOLD_MODELS_DIR;

std::vector<std::string> producers(const ModelSummary& s) {
  std::vector<std::string> out;
  for (const auto& b : s.batchnorms) out.push_back(b.producer_op);
  return out;
}

}  // namespace

TEST_CASE("tiny_resnet: every BN follows a single-consumer Conv", "[inspect]") {
  const auto g = load_onnx(kModels + "/tiny_resnet.onnx");
  const ModelSummary s = summarize(*g);
  REQUIRE(s.inputs.size() == 1);
  CHECK(s.inputs[0].shape.str() == "[N,3,32,32]");
  CHECK(s.outputs[0].shape.str() == "[N,10]");
  CHECK(s.op_counts.at("Conv") == 7);
  REQUIRE(s.batchnorms.size() == 7);
  for (const auto& b : s.batchnorms) {
    CHECK(b.producer_op == "Conv");
    CHECK(b.producer_consumers == 1);
    CHECK(b.params_constant);
    CHECK_FALSE(b.training);
    CHECK(b.var_min > 0);
    CHECK(b.var_min < b.var_max);  // calibrated: not the initial all-ones
    CHECK(b.var_eps_nonpositive.empty());
  }
  CHECK(s.parameters > 20000);
}

TEST_CASE("mlp_bn and deconv_bn: BN after Gemm, ConvTranspose, a shared Relu and an Add", "[inspect]") {
  CHECK(producers(summarize(*load_onnx(kModels + "/mlp_bn.onnx"))) ==
        std::vector<std::string>{"Gemm", "MatMul"});  // Linear without bias exports as MatMul
  const ModelSummary s = summarize(*load_onnx(kModels + "/deconv_bn.onnx"));
  REQUIRE(producers(s) == std::vector<std::string>{"ConvTranspose", "Relu", "Add"});
  CHECK(s.batchnorms[1].producer_consumers == 2);  // the Relu feeds bn_pre and a conv
  CHECK(s.batchnorms[1].consumer_ops == std::vector<std::string>{"Conv"});
}

TEST_CASE("bad BN parameters are flagged per channel", "[inspect]") {
  Graph g;
  g.info.opsets[""] = 15;
  Value* x = g.add_input("x", DType::Float32, Shape::of({1, 3, 2, 2}));
  auto vec = [&](const char* name, std::vector<float> v) {
    Tensor t(DType::Float32, {3});
    std::copy(v.begin(), v.end(), t.mutable_data_as<float>());
    return g.add_constant(name, t);
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Node* bn = g.add_node("BatchNormalization",
                        {x, vec("s", {1, nan, 1}), vec("b", {0, 0, 0}), vec("m", {0, 0, 0}),
                         vec("v", {1, -1, -0.5f})},
                        {"y"}, "bn");
  g.add_output(bn->output(0));
  const ModelSummary s = summarize(g);
  REQUIRE(s.batchnorms.size() == 1);
  const auto& b = s.batchnorms[0];
  CHECK(b.producer_op == "graph input");
  CHECK(b.var_min == -1);
  CHECK(b.var_max == 1);
  CHECK(b.var_eps_nonpositive == std::vector<int64_t>{1, 2});
  CHECK(b.nonfinite == std::vector<int64_t>{1});
}
