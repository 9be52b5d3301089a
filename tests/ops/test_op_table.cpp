// The op table: one entry per op and opset range, its variant as data, its
// lowering and FLOP count; and what find_op says for what it lacks.
#include <catch2/catch.hpp>

#include <set>

#include "ops/ops.hpp"
#include "bnfold/runtime/session.hpp"
#include "tests/model_builder.hpp"

using namespace bnfold;
using namespace bnfold::ops;
using Catch::Matchers::Contains;

namespace {

// A detached node of op `op` in a graph at `opset`, for find_op.
struct OneNode {
  Graph g;
  Node* n;
  OneNode(const std::string& op, int64_t opset, const std::string& domain = "") {
    g.info.opsets[""] = opset;
    if (!domain.empty()) g.info.opsets[domain] = 1;
    Value* x = g.add_input("x", DType::Float32, Shape::of({2}));
    n = g.add_node(op, {x}, {"y"}, "n", domain);
  }
};

}  // namespace

TEST_CASE("every entry makes a kernel and its variant names its op", "[ops][table]") {
  std::set<std::pair<std::string, int>> seen;
  for (const OpEntry* e : all_ops()) {
    INFO(e->op);
    CHECK(e->since <= e->until);
    CHECK(seen.insert({e->op, e->since}).second);  // no duplicate entry
    OneNode one(e->op, e->since);
    CHECK(e->kernel(*one.n) != nullptr);
    CHECK(find_op(*one.n) == e);
    if (e->make == make_unary) CHECK(std::string(unary_name(e->as<UnaryOp>())) == e->op);
    if (e->make == make_binary) CHECK(std::string(binary_name(e->as<BinaryOp>())) == e->op);
    // Exactly the ops that dominate run time count FLOPs.
    const bool heavy = e->lowering == Lowering::Conv || e->lowering == Lowering::ConvTranspose ||
                       e->lowering == Lowering::Gemm || e->lowering == Lowering::MatMul;
    CHECK((e->flops != nullptr) == heavy);
  }
  CHECK(seen.size() >= 90);
}

TEST_CASE("find_op follows opset ranges and domains, and says why not", "[ops][table]") {
  CHECK(find_op(*OneNode("HardSwish", 14).n) != nullptr);
  const OneNode old("HardSwish", 13);
  CHECK(find_op(*old.n) == nullptr);
  CHECK_THAT(why_unsupported(*old.n), Contains("HardSwish is implemented for opsets 14 to 17, the model uses opset 13"));
  const OneNode upsample("Upsample", 10);
  CHECK(find_op(*upsample.n) == nullptr);
  CHECK(find_op(*OneNode("Upsample", 9).n) != nullptr);
  const OneNode custom("Relu", 13, "com.example");
  CHECK(find_op(*custom.n) == nullptr);
  CHECK_THAT(why_unsupported(*custom.n), Contains("domain 'com.example'"));
  CHECK_THAT(why_unsupported(*OneNode("Bernoulli", 15).n), Contains("bnfold has no kernel for Bernoulli"));
  CHECK(lowered_as(*OneNode("Relu", 13).n, Lowering::Eltwise) != nullptr);
  CHECK(lowered_as(*OneNode("Relu", 13).n, Lowering::Binary) == nullptr);
  CHECK(lowered_as(*OneNode("Softsign", 13).n, Lowering::Eltwise) == nullptr);  // oneDNN has no softsign
}

TEST_CASE("the FLOP counts of Conv, ConvTranspose, Gemm and MatMul", "[ops][table][flops]") {
  test::TestModel m;
  Value* x = m.input("x", {2, 4, 5, 5});
  Value* c = m.node("Conv", {x, m.weight("w", {6, 2, 3, 3})}, "c", {{"group", Attribute::of_int(2)}});
  Value* t = m.node("ConvTranspose", {c, m.weight("wt", {6, 3, 2, 2})}, "t");  // [2,3,4,4]
  Value* f = m.node("Flatten", {t}, "f");                                     // [2,48]
  Value* g = m.node("Gemm", {f, m.weight("wg", {48, 7})}, "g");               // [2,7]
  m.output(m.node("MatMul", {g, m.weight("wm", {7, 3})}, "mm"));              // [2,3]
  SessionOptions ref;
  ref.use_onednn = false;
  const Session s(m.g, ref);
  const double conv = 2.0 * (2 * 6 * 3 * 3) * (2 * 3 * 3);
  const double deconv = 2.0 * (2 * 6 * 3 * 3) * (3 * 2 * 2);
  const double gemm = 2.0 * (2 * 7) * 48, matmul = 2.0 * (2 * 3) * 7;
  CHECK(s.plan_stats(m.inputs).flops == Approx(conv + deconv + gemm + matmul));
}
