// Every fold kind and every precondition: the graph is run before and after
// (reference kernels, so only the fold's own rounding shows) and must agree
// within rtol 1e-5 / atol 1e-6; the structure (op counts, names, report) is
// checked too. Passes run with verify() after each one.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/analysis/verify_fold.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
#include "tests/model_builder.hpp"
#include "tests/onnx_builder.hpp"

using namespace bnfold;
using Catch::Matchers::Contains;

namespace {

struct Model : test::TestModel {
  explicit Model(int64_t opset = 15) : TestModel(opset) {}

  // Folds a copy; checks outputs before/after agree; returns the copy and report.
  std::pair<std::shared_ptr<Graph>, FoldReport> fold(double rtol = 1e-5, double atol = 1e-6) {
    const std::string bytes = serialize_onnx(*g);
    std::shared_ptr<Graph> folded = load_onnx_bytes(bytes.data(), bytes.size(), "copy");
    PipelineOptions fo;
    fo.verify_each = true;
    FoldReport report = fold_batchnorms(*folded, fo);
    SessionOptions ref;
    ref.use_onednn = false;
    test::check_same_outputs(Session(folded, ref).run(inputs), Session(g, ref).run(inputs), rtol, atol);
    return {folded, report};
  }
};

size_t count(const Graph& g, const std::string& op) { return test::count_ops(g, op); }
using test::ints;
using test::random_tensor;

const BnFoldRow& only_row(const FoldReport& r) {
  REQUIRE(r.rows().size() >= 1);
  static BnFoldRow row;
  row = r.rows()[0];
  return row;
}

}  // namespace

TEST_CASE("Conv -> BN folds: 1-D, 2-D, 3-D, grouped, depthwise, with and without bias", "[fold][conv]") {
  struct Spec {
    std::vector<int64_t> x, w;
    int64_t group;
    bool bias;
  };
  const Spec specs[] = {
      {{2, 3, 9}, {5, 3, 3}, 1, true},
      {{2, 4, 7, 6}, {6, 4, 3, 3}, 1, false},
      {{1, 6, 5, 5}, {9, 2, 3, 3}, 3, true},
      {{2, 7, 6, 6}, {7, 1, 3, 3}, 7, false},
      {{1, 2, 4, 5, 6}, {3, 2, 3, 3, 3}, 1, true},
  };
  for (const auto& s : specs) {
    Model m;
    std::vector<Value*> in = {m.input("x", s.x), m.weight("w", s.w)};
    if (s.bias) in.push_back(m.weight("b", {s.w[0]}));
    Value* c = m.node("Conv", in, "c", {{"group", Attribute::of_int(s.group)}});
    m.output(m.bn(c, s.w[0], "y"));
    auto [g, report] = m.fold();
    CHECK(count(*g, "BatchNormalization") == 0);
    CHECK(count(*g, "Conv") == 1);
    CHECK(g->outputs()[0]->name() == "y");
    CHECK(only_row(report).describe() == "folded into c_node");
    CHECK(g->find_value("w") == nullptr);  // the old weight is gone, dead code dropped it
  }
}

TEST_CASE("grouped ConvTranspose -> BN folds along axis 1 within each group", "[fold][convtranspose]") {
  Model m;
  Value* c = m.node("ConvTranspose", {m.input("x", {2, 4, 5, 5}), m.weight("w", {4, 3, 3, 3}), m.weight("b", {6})},
                    "c", {{"group", Attribute::of_int(2)}, {"strides", ints({2, 2})}});
  m.output(m.bn(c, 6, "y"));
  auto [g, report] = m.fold();
  CHECK(count(*g, "BatchNormalization") == 0);
  CHECK(only_row(report).action == FoldAction::Folded);
}

TEST_CASE("Gemm -> BN folds for transB 0 and 1, alpha, beta, with and without C", "[fold][gemm]") {
  for (int trans_b : {0, 1}) {
    for (int with_c : {0, 1, 2}) {
      Model m;
      std::vector<Value*> in = {m.input("a", {4, 6}), m.weight("b", trans_b ? std::vector<int64_t>{5, 6}
                                                                            : std::vector<int64_t>{6, 5})};
      if (with_c == 1) in.push_back(m.weight("c", {5}));
      if (with_c == 2) in.push_back(m.weight("c", {4, 5}));
      Value* y = m.node("Gemm", in, "g",
                        {{"transB", Attribute::of_int(trans_b)}, {"alpha", Attribute::of_float(0.5f)},
                         {"beta", Attribute::of_float(2.0f)}});
      m.output(m.bn(y, 5, "y"));
      auto [g, report] = m.fold();
      INFO("transB " << trans_b << " C " << with_c);
      CHECK(count(*g, "BatchNormalization") == 0);
      CHECK(only_row(report).action == FoldAction::Folded);
    }
  }
}

TEST_CASE("MatMul -> BN: 2-D A folds (as a Gemm), batched A keeps a scale-shift", "[fold][matmul]") {
  Model m;
  Value* y = m.node("MatMul", {m.input("a", {4, 6}), m.weight("b", {6, 5})}, "mm", {}, {4, 5});
  m.output(m.bn(y, 5, "y"));
  auto [g, report] = m.fold();
  CHECK(count(*g, "MatMul") == 0);
  CHECK(count(*g, "Gemm") == 1);
  CHECK(only_row(report).action == FoldAction::Folded);

  Model batched;  // [2, 4, 6] x [6, 5] -> [2, 4, 5]: BN's channel axis 1 is not the output-feature axis
  Value* z = batched.node("MatMul", {batched.input("a", {2, 4, 6}), batched.weight("b", {6, 5})}, "mm", {}, {2, 4, 5});
  batched.output(batched.bn(z, 4, "y", {2, 4, 5}));
  auto [g2, r2] = batched.fold();
  CHECK(only_row(r2).action == FoldAction::ScaleShift);
  CHECK_THAT(only_row(r2).reason, Contains("A of mm_node is not 2-D"));
}

TEST_CASE("MatMul + Add -> BN folds through matmul-add-to-gemm", "[fold][matmul]") {
  Model m;
  Value* y = m.node("MatMul", {m.input("a", {3, 6}), m.weight("b", {6, 4})}, "mm", {}, {3, 4});
  Value* z = m.node("Add", {y, m.weight("bias", {4})}, "add", {}, {3, 4});
  m.output(m.bn(z, 4, "y"));
  auto [g, report] = m.fold();
  CHECK(count(*g, "Gemm") == 1);
  CHECK(g->num_nodes() == 1);
  CHECK(only_row(report).action == FoldAction::Folded);
}

TEST_CASE("BN -> Conv folds forward without padding, is kept with padding", "[fold][consumer]") {
  for (bool padded : {false, true}) {
    Model m;
    Value* x = m.input("x", {2, 4, 6, 6});
    Value* r = m.node("Relu", {x}, "r", {}, {2, 4, 6, 6});
    Value* b = m.bn(r, 4, "bn", {2, 4, 6, 6});
    std::vector<std::pair<std::string, Attribute>> attrs = {{"group", Attribute::of_int(2)}};
    if (padded) attrs.push_back({"pads", ints({1, 1, 1, 1})});
    m.output(m.node("Conv", {b, m.weight("w", {6, 2, 3, 3}), m.weight("cb", {6})}, "y", attrs));
    auto [g, report] = m.fold();
    const BnFoldRow& row = only_row(report);
    if (!padded) {
      CHECK(row.describe() == "folded into following y_node");
      CHECK(count(*g, "Mul") == 0);
    } else {
      CHECK(row.action == FoldAction::ScaleShift);
      CHECK_THAT(row.reason, Contains("zero padding makes the fold inexact"));
      CHECK(count(*g, "Mul") == 1);
      CHECK(count(*g, "Add") == 1);
    }
    CHECK(count(*g, "BatchNormalization") == 0);
  }
}

TEST_CASE("BN -> Gemm and BN -> MatMul fold forward", "[fold][consumer]") {
  for (int trans_b : {0, 1}) {
    Model m;
    Value* r = m.node("Relu", {m.input("x", {3, 6})}, "r", {}, {3, 6});
    Value* b = m.bn(r, 6, "bn", {3, 6});
    m.output(m.node("Gemm", {b, m.weight("w", trans_b ? std::vector<int64_t>{4, 6} : std::vector<int64_t>{6, 4}),
                             m.weight("c", {4})},
                    "y", {{"transB", Attribute::of_int(trans_b)}, {"alpha", Attribute::of_float(1.5f)}}));
    auto [g, report] = m.fold();
    CHECK(only_row(report).action == FoldAction::FoldedForward);
  }
  Model mm;
  Value* r = mm.node("Relu", {mm.input("x", {3, 6})}, "r", {}, {3, 6});
  mm.output(mm.node("MatMul", {mm.bn(r, 6, "bn", {3, 6}), mm.weight("w", {6, 4})}, "y", {}, {3, 4}));
  auto [g, report] = mm.fold();
  CHECK(only_row(report).action == FoldAction::FoldedForward);
  CHECK(g->outputs()[0]->name() == "y");
}

TEST_CASE("a weight shared by two convs is not changed for the other", "[fold][preconditions]") {
  Model m;
  Value* x = m.input("x", {1, 3, 5, 5});
  Value* w = m.weight("w", {4, 3, 3, 3});
  const Tensor before = w->data().clone();
  m.output(m.bn(m.node("Conv", {x, w}, "c1"), 4, "y1"));
  m.output(m.node("Conv", {x, w}, "c2"));
  auto [g, report] = m.fold();
  CHECK(only_row(report).action == FoldAction::Folded);
  REQUIRE(g->find_value("w") != nullptr);
  CHECK(g->find_value("w")->data().same_as(before));
  CHECK(w->data().same_as(before));  // the original graph is untouched too
}

TEST_CASE("preconditions: second consumer, graph outputs, training mode, non-constant parameters",
          "[fold][preconditions]") {
  {
    Model m;
    Value* c = m.node("Conv", {m.input("x", {1, 3, 5, 5}), m.weight("w", {4, 3, 3, 3})}, "c", {}, {1, 4, 3, 3});
    m.output(m.bn(c, 4, "y", {1, 4, 3, 3}));
    m.output(m.node("Relu", {c}, "r"));
    auto [g, report] = m.fold();
    CHECK(only_row(report).describe() == "kept as scale-shift: producer output has 2 consumers; its output is a graph output");
  }
  {
    Model m;  // the producer's output is itself a graph output
    Value* c = m.node("Conv", {m.input("x", {1, 3, 5, 5}), m.weight("w", {4, 3, 3, 3})}, "c", {}, {1, 4, 3, 3});
    m.output(m.bn(c, 4, "y", {1, 4, 3, 3}));
    m.output(c);
    auto [g, report] = m.fold();
    CHECK_THAT(only_row(report).reason, Contains("producer output is a graph output"));
  }
  {
    Model m;  // BN as graph output: folded, name kept
    Value* c = m.node("Conv", {m.input("x", {1, 3, 5, 5}), m.weight("w", {4, 3, 3, 3})}, "c");
    m.output(m.bn(c, 4, "y"));
    auto [g, report] = m.fold();
    CHECK(only_row(report).action == FoldAction::Folded);
    CHECK(g->outputs()[0]->name() == "y");
    CHECK(g->outputs()[0]->producer()->op_type() == "Conv");
  }
  {
    Model m;
    Value* c = m.node("Conv", {m.input("x", {2, 3, 5, 5}), m.weight("w", {4, 3, 3, 3})}, "c");
    Value* y = m.bn(c, 4, "y");
    y->producer()->set_attr("training_mode", Attribute::of_int(1));
    m.output(y);
    const std::string bytes = serialize_onnx(*m.g);
    auto g = load_onnx_bytes(bytes.data(), bytes.size(), "copy");
    FoldReport report = fold_batchnorms(*g);
    CHECK(only_row(report).describe() ==
          "kept: BN is in training mode (training_mode=1): it normalizes with batch statistics; --eval-mode "
          "switches it to its running statistics");
    CHECK(count(*g, "BatchNormalization") == 1);
  }
  {
    Model m;  // parameters fed at run time
    Value* c = m.node("Conv", {m.input("x", {1, 3, 5, 5}), m.weight("w", {4, 3, 3, 3})}, "c");
    std::vector<Value*> params = {c};
    for (const char* p : {"gamma", "beta", "mean"}) params.push_back(m.input(p, {4}));
    params.push_back(m.weight("var", {4}, 0.5f, 1.0f));
    m.output(m.node("BatchNormalization", params, "y"));
    auto [g, report] = m.fold();
    CHECK(only_row(report).describe() == "kept: BN's parameters are not constant");
  }
}

TEST_CASE("bad BN parameters and channel mismatches are refused with the channel", "[fold][preconditions]") {
  auto with_params = [](std::vector<float> var, std::vector<float> gamma) {
    Model m;
    Value* c = m.node("Conv", {m.input("x", {1, 3, 5, 5}), m.weight("w", {3, 3, 1, 1})}, "c");
    Tensor v(DType::Float32, {3}), s(DType::Float32, {3});
    std::copy(var.begin(), var.end(), v.mutable_data_as<float>());
    std::copy(gamma.begin(), gamma.end(), s.mutable_data_as<float>());
    m.output(m.node("BatchNormalization",
                    {c, m.g->add_constant("s", s), m.weight("b", {3}), m.weight("m", {3}), m.g->add_constant("v", v)},
                    "y", {{"epsilon", Attribute::of_float(1e-5f)}}));
    const std::string bytes = serialize_onnx(*m.g);
    auto g = load_onnx_bytes(bytes.data(), bytes.size(), "copy");
    return only_row(fold_batchnorms(*g)).describe();
  };
  CHECK_THAT(with_params({1, -1, 1}, {1, 1, 1}), Contains("kept: running var + eps <= 0 at channel 1"));
  CHECK_THAT(with_params({1, 1, 1}, {1, 1, std::numeric_limits<float>::quiet_NaN()}),
             Contains("kept: NaN or Inf in BN's parameters at channel 2"));

  Model m;  // BN's 5 channels against the conv's 4
  Value* c = m.node("Conv", {m.input("x", {1, 3, 5, 5}), m.weight("w", {4, 3, 1, 1})}, "c");
  m.output(m.bn(c, 5, "y"));
  const std::string bytes = serialize_onnx(*m.g);
  auto g = load_onnx_bytes(bytes.data(), bytes.size(), "copy");
  CHECK_THAT(only_row(fold_batchnorms(*g)).reason, Contains("BN has 5 channels, c_node has 4 output channels"));
}

TEST_CASE("float16 weights fold in double, an overflow is refused", "[fold][fp16]") {
  Model m;
  m.dtype = DType::Float16;
  Value* c = m.node("Conv", {m.input("x", {1, 3, 5, 5}), m.weight("w", {4, 3, 3, 3})}, "c");
  m.output(m.bn(c, 4, "y"));
  auto [g, report] = m.fold(2e-3, 2e-3);  // float16 rounding of the folded weights
  CHECK(only_row(report).action == FoldAction::Folded);
  CHECK(g->find_value("c_node_weight_folded")->data().dtype() == DType::Float16);

  Model big;
  big.dtype = DType::Float16;
  Value* c2 = big.node("Conv", {big.input("x", {1, 3, 5, 5}), big.weight("w", {4, 3, 3, 3}, 1, 2)}, "c");
  Tensor gamma(DType::Float16, {4});
  for (int i = 0; i < 4; ++i) gamma.mutable_data_as<uint16_t>()[i] = float_to_half(i == 2 ? 60000.f : 1.f);
  Tensor var(DType::Float16, {4});
  for (int i = 0; i < 4; ++i) var.mutable_data_as<uint16_t>()[i] = float_to_half(1e-3f);
  big.output(big.node("BatchNormalization",
                      {c2, big.g->add_constant("s", gamma), big.weight("b", {4}), big.weight("m", {4}),
                       big.g->add_constant("v", var)},
                      "y"));
  const std::string bytes = serialize_onnx(*big.g);
  auto g2 = load_onnx_bytes(bytes.data(), bytes.size(), "copy");
  CHECK_THAT(only_row(fold_batchnorms(*g2)).reason, Contains("the folded weights overflow float16 at output channel 2"));

  // A shift -mean * s that overflows float16 where the weights do not: the BN
  // is kept (a scale-shift or a fold would hold -inf), and the report says
  // what the written graph holds.
  Model shift;
  shift.dtype = DType::Float16;
  Value* c3 = shift.node("Conv", {shift.input("x", {1, 3, 5, 5}), shift.weight("w", {4, 3, 1, 1})}, "c");
  Tensor g3(DType::Float16, {4}), mean(DType::Float16, {4}), v3(DType::Float16, {4});
  for (int i = 0; i < 4; ++i) {
    g3.mutable_data_as<uint16_t>()[i] = float_to_half(100.f);
    mean.mutable_data_as<uint16_t>()[i] = float_to_half(1000.f);
    v3.mutable_data_as<uint16_t>()[i] = float_to_half(1.f);
  }
  shift.output(shift.node("BatchNormalization",
                          {c3, shift.g->add_constant("s", g3), shift.weight("b", {4}), shift.g->add_constant("m", mean),
                           shift.g->add_constant("v", v3)},
                          "y"));
  const std::string b3 = serialize_onnx(*shift.g);
  auto g3f = load_onnx_bytes(b3.data(), b3.size(), "copy");
  const BnFoldRow row = only_row(fold_batchnorms(*g3f));
  CHECK(row.action == FoldAction::Kept);
  CHECK_THAT(row.reason, Contains("its scale-shift constants overflow float16"));
  CHECK(count(*g3f, "BatchNormalization") == 1);
  for (const Value* v : g3f->initializers())
    for (int64_t i = 0; i < v->data().numel(); ++i) CHECK(std::isfinite(v->data().value_at(i)));
}

TEST_CASE("Identity between Conv and BN, and decomposed BN (Mul+Add), fold", "[fold][cleanup]") {
  Model m(13);
  Value* c = m.node("Conv", {m.input("x", {1, 3, 5, 5}), m.weight("w", {4, 3, 3, 3})}, "c", {}, {1, 4, 3, 3});
  Value* i = m.node("Identity", {c}, "i", {}, {1, 4, 3, 3});
  m.output(m.bn(i, 4, "y"));
  auto [g, report] = m.fold();
  CHECK(g->num_nodes() == 1);
  CHECK(only_row(report).action == FoldAction::Folded);

  Model d;
  Value* c2 = d.node("Conv", {d.input("x", {2, 3, 5, 5}), d.weight("w", {4, 3, 3, 3})}, "c", {}, {2, 4, 3, 3});
  Value* mul = d.node("Mul", {c2, d.weight("s", {1, 4, 1, 1})}, "mul", {}, {2, 4, 3, 3});
  d.output(d.node("Add", {mul, d.weight("t", {4, 1, 1})}, "y", {}, {2, 4, 3, 3}));
  auto [g2, r2] = d.fold();
  CHECK(g2->num_nodes() == 1);
  CHECK(g2->outputs()[0]->name() == "y");
}

TEST_CASE("the folded model passes the ONNX checker and keeps its interface", "[fold][export]") {
  Model m;
  Value* c = m.node("Conv", {m.input("x", {1, 3, 5, 5}), m.weight("w", {4, 3, 3, 3})}, "c");
  m.output(m.bn(c, 4, "y"));
  auto [g, report] = m.fold();
  test::TempDir dir;
  save_onnx(*g, dir.file("f.onnx"));  // runs the checker
  auto back = load_onnx(dir.file("f.onnx"));
  CHECK(back->inputs()[0]->name() == "x");
  CHECK(back->outputs()[0]->name() == "y");
}

TEST_CASE("verify_fold measures outputs and each fold", "[fold][verify]") {
  Model m;
  Value* c = m.node("Conv", {m.input("x", {1, 3, 5, 5}), m.weight("w", {4, 3, 3, 3})}, "c");
  Value* r = m.node("Relu", {m.bn(c, 4, "b1")}, "r");
  m.output(m.node("Conv", {r, m.weight("w2", {2, 4, 1, 1})}, "y"));
  const std::string bytes = serialize_onnx(*m.g);
  auto folded = load_onnx_bytes(bytes.data(), bytes.size(), "copy");
  FoldReport report = fold_batchnorms(*folded);
  const VerifyResult v = verify_fold(*m.g, *folded, &report);
  CHECK(v.ok);
  REQUIRE(v.outputs.size() == 1);
  CHECK(v.outputs[0].max_abs < 1e-5);
  REQUIRE(v.folds.size() == 1);
  CHECK(v.folds[0].name == "b1");
  CHECK(report.rows()[0].max_abs_error >= 0);
}
