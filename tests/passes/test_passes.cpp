// The passes other than the folds, each run on its own: the graph before and
// after computes the same (reference kernels), and the structure is what the
// pass promises. And the pipeline: its order, and why that order matters.
#include <catch2/catch.hpp>

#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/passes/pipeline.hpp"
#include "bnfold/runtime/session.hpp"
#include "tests/model_builder.hpp"

using namespace bnfold;
using Catch::Matchers::Contains;
using test::count_ops;

namespace {

Tensor int64s(std::vector<int64_t> v) {
  Tensor t(DType::Int64, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.mutable_data_as<int64_t>()[i] = v[i];
  return t;
}

// Runs `passes` on a copy of m's graph and checks the copy still computes
// the same outputs; returns the copy and the names of the passes that changed it.
std::pair<std::shared_ptr<Graph>, std::vector<std::string>> run_passes(const test::TestModel& m,
                                                                       std::vector<std::string> passes,
                                                                       double rtol = 0, double atol = 0) {
  std::shared_ptr<Graph> g = clone_graph(*m.g);
  PipelineOptions o;
  o.passes = std::move(passes);
  o.verify_each = true;
  auto changed = run_pipeline(*g, o, nullptr);
  SessionOptions ref;
  ref.use_onednn = false;
  test::check_same_outputs(Session(g, ref).run(m.inputs), Session(m.g, ref).run(m.inputs), rtol, atol);
  return {g, changed};
}

const Node* producer_of_input(const Graph& g, const std::string& op, size_t input) {
  for (const Node* n : g.nodes())
    if (n->op_type() == op) return n->input(input)->producer();
  return nullptr;
}

}  // namespace

TEST_CASE("constant folding computes a shape chain once and keeps the names", "[passes][constant-folding]") {
  test::TestModel m;
  Value* x = m.input("x", {2, 3, 2});
  Value* three = m.g->add_constant("three", int64s({3}));
  Value* minus1 = m.g->add_constant("minus1", int64s({-1}));
  Value* shape = m.node("Concat", {three, minus1}, "shape", {{"axis", Attribute::of_int(0)}});
  Value* y = m.node("Reshape", {x, shape}, "y");
  m.output(m.node("Relu", {y}, "out"));
  auto [g, changed] = run_passes(m, {"constant-folding"});
  CHECK(changed == std::vector<std::string>{"constant-folding"});
  CHECK(count_ops(*g, "Concat") == 0);
  CHECK(count_ops(*g, "Reshape") == 1);
  const Value* folded = g->find_value("shape");  // the constant took the name of what it replaced
  REQUIRE(folded != nullptr);
  REQUIRE(folded->is_constant());
  CHECK(folded->data().value_at(0) == 3);
  CHECK(folded->data().value_at(1) == -1);
  // Nothing left to fold: a second run changes nothing.
  PipelineOptions again;
  again.passes = {"constant-folding"};
  CHECK(run_pipeline(*g, again, nullptr).empty());
}

TEST_CASE("constant folding reads known dims through Shape and Gather, not symbolic ones",
          "[passes][constant-folding]") {
  auto g = std::make_shared<Graph>();
  g->info.opsets[""] = 13;
  Shape s = Shape::of({0, 3, 4});
  s.dims[0] = Dim::symbolic("N");
  Value* x = g->add_input("x", DType::Float32, s);
  Node* shape = g->add_node("Shape", {x}, {"s"}, "shape");
  Node* c = g->add_node("Gather", {shape->output(0), g->add_constant("one", int64s({1}))}, {"c"}, "gather_c");
  Node* n = g->add_node("Gather", {shape->output(0), g->add_constant("zero", int64s({0}))}, {"n"}, "gather_n");
  g->add_output(c->output(0));
  g->add_output(n->output(0));
  PipelineOptions o;
  o.passes = {"constant-folding"};
  run_pipeline(*g, o, nullptr);
  g->verify();
  REQUIRE(g->find_value("c")->is_constant());  // dim 1 is 3 whatever N is
  CHECK(g->find_value("c")->data().value_at(0) == 3);
  CHECK_FALSE(g->find_value("n")->is_constant());  // N is known only when the input arrives
  CHECK(count_ops(*g, "Shape") == 1);
}

TEST_CASE("constant folding leaves a result over 64 MB to run time", "[passes][constant-folding]") {
  test::TestModel m;
  Value* x = m.input("x", {1});
  Value* big = m.node("ConstantOfShape", {m.g->add_constant("dims", int64s({5000, 5000}))}, "big");
  Value* s = m.node("ReduceSum", {big}, "s", {{"keepdims", Attribute::of_int(0)}});
  m.output(m.node("Add", {x, s}, "out"));
  std::shared_ptr<Graph> g = clone_graph(*m.g);
  PipelineOptions o;
  o.passes = {"constant-folding"};
  run_pipeline(*g, o, nullptr);
  CHECK(count_ops(*g, "ConstantOfShape") == 1);
}

TEST_CASE("dead code: unused chains and constants go, inputs and outputs stay", "[passes][dead-code]") {
  test::TestModel m;
  Value* x = m.input("x", {2, 4});
  Value* unused_input = m.input("unused", {3});
  Value* dead = m.node("Sigmoid", {m.node("Relu", {x}, "dead1")}, "dead2");
  (void)dead;
  m.g->add_constant("orphan", int64s({1, 2}));
  m.output(m.node("Tanh", {x}, "out"));
  auto [g, changed] = run_passes(m, {"dead-code"});
  CHECK(changed == std::vector<std::string>{"dead-code"});
  CHECK(g->num_nodes() == 1);
  CHECK(g->find_value("dead1") == nullptr);
  CHECK(g->find_value("orphan") == nullptr);
  CHECK(g->find_value("unused") != nullptr);  // the interface does not change
  CHECK(unused_input != nullptr);
  PipelineOptions again;
  again.passes = {"dead-code"};
  CHECK(run_pipeline(*g, again, nullptr).empty());
}

TEST_CASE("the default pipeline's order, each with its reason", "[passes][pipeline]") {
  std::vector<std::string> names;
  for (const PassInfo& p : default_pipeline()) {
    names.emplace_back(p.name);
    CHECK(std::string(p.why).size() > 20);
    CHECK(make_pass(p.name) != nullptr);
  }
  CHECK(names == std::vector<std::string>{"eliminate-identity", "constant-folding", "dead-code",
                                          "matmul-add-to-gemm", "fold-bn-into-producer", "fold-bn-into-consumer",
                                          "bn-to-scale-shift", "fold-affine-into-producer", "dead-code"});
}

TEST_CASE("an unknown pass fails before any pass changes the graph", "[passes][pipeline]") {
  test::TestModel m;
  Value* x = m.input("x", {2, 3});
  m.output(m.node("Identity", {m.node("Identity", {x}, "a")}, "b"));
  const std::string before = m.g->dump();
  PipelineOptions o;
  o.passes = {"eliminate-identity", "no-such-pass"};
  CHECK_THROWS_WITH(run_pipeline(*m.g, o, nullptr),
                    Contains("unknown pass 'no-such-pass'; the passes are: eliminate-identity, constant-folding"));
  CHECK(m.g->dump() == before);
}

TEST_CASE("order matters: constants are folded before BNs are, so a computed gamma folds", "[passes][pipeline]") {
  test::TestModel m(15);
  Value* x = m.input("x", {2, 3, 5, 5});
  Value* conv = m.node("Conv", {x, m.weight("w", {4, 3, 3, 3})}, "conv");
  // gamma = Cast(float64 constant): a constant only after constant folding.
  Tensor g64(DType::Float64, {4});
  for (int64_t i = 0; i < 4; ++i) g64.mutable_data_as<double>()[i] = 0.5 + 0.25 * static_cast<double>(i);
  Value* gamma = m.node("Cast", {m.g->add_constant("gamma64", std::move(g64))}, "gamma",
                        {{"to", Attribute::of_int(1)}});
  Value* y = m.node("BatchNormalization",
                    {conv, gamma, m.weight("beta", {4}), m.weight("mean", {4}), m.weight("var", {4}, 0.5f, 2.f)}, "y");
  m.output(y);
  {
    std::shared_ptr<Graph> alone = clone_graph(*m.g);
    PipelineOptions only;
    only.passes = {"fold-bn-into-producer"};
    const FoldReport r = fold_batchnorms(*alone, only);
    CHECK(r.rows()[0].action == FoldAction::Kept);
    CHECK_THAT(r.rows()[0].reason, Contains("not constant"));
  }
  auto [g, changed] = run_passes(m, {}, 1e-5, 1e-6);
  CHECK(count_ops(*g, "BatchNormalization") == 0);
  CHECK(count_ops(*g, "Cast") == 0);
  CHECK(producer_of_input(*g, "Conv", 0) == nullptr);  // the Conv reads x directly
  CHECK(std::find(changed.begin(), changed.end(), "fold-bn-into-producer") != changed.end());
}
