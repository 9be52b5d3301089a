// If's branches (imported with the outer values they read as the node's
// inputs, exported back as ONNX has them, run on the branch the condition
// picks), and plans that stop before a node whose output shape a run-time
// value decides (NonZero on an input's values, NonMaxSuppression) and
// continue after it (runtime/stages.cpp). Checked against values computed
// here by hand.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/runtime/session.hpp"
#include "tests/onnx_builder.hpp"

using namespace bnfold;
using namespace bnfold::test;
using Catch::Matchers::Contains;

namespace {

onnx::NodeProto* body_node(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& in,
                           const std::vector<std::string>& out) {
  auto* n = g->add_node();
  n->set_op_type(op);
  for (const auto& s : in) n->add_input(s);
  for (const auto& s : out) n->add_output(s);
  return n;
}

onnx::GraphProto* branch(onnx::NodeProto* n, const std::string& attr, const std::string& output) {
  auto* a = n->add_attribute();
  a->set_name(attr);
  a->set_type(onnx::AttributeProto::GRAPH);
  auto* g = a->mutable_g();
  g->set_name(attr);
  auto* o = g->add_output();
  o->set_name(output);
  o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return g;
}

Tensor floats(std::vector<float> v) {
  Tensor t(DType::Float32, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.mutable_data_as<float>());
  return t;
}

Tensor flag(bool b) {
  Tensor t(DType::Bool, {});
  t.mutable_data_as<uint8_t>()[0] = b;
  return t;
}

std::vector<float> values(const Tensor& t) { return {t.data_as<float>(), t.data_as<float>() + t.numel()}; }

// y = If(c) then x + w else (If(d) then -x else x * w): the inner If reads
// x and w from two scopes out.
onnx::ModelProto branching_model() {
  auto m = make_model(13);
  add_input(m, "x", {3});
  add_input(m, "c", {}, onnx::TensorProto::BOOL);
  add_input(m, "d", {}, onnx::TensorProto::BOOL);
  add_float_initializer(m, "w", {3}, {10, 20, 30});
  auto* n = add_node(m, "If", {"c"}, {"y"}, "outer");
  body_node(branch(n, "then_branch", "sum"), "Add", {"x", "w"}, {"sum"});
  auto* inner = body_node(branch(n, "else_branch", "picked"), "If", {"d"}, {"picked"});
  body_node(branch(inner, "then_branch", "neg"), "Neg", {"x"}, {"neg"});
  body_node(branch(inner, "else_branch", "prod"), "Mul", {"x", "w"}, {"prod"});
  add_output(m, "y", {3});
  return m;
}

}  // namespace

TEST_CASE("an If's branches read outer values through the node's inputs and run by the condition",
          "[control][if]") {
  TempDir dir;
  const auto g = load_onnx(dir.write("if.onnx", branching_model()));
  const Node* n = g->nodes()[0];
  REQUIRE(n->op_type() == "If");
  // The condition, then what the branches read (the nested If's condition
  // too), in first-use order, else_branch first (bodies in name order).
  REQUIRE(n->inputs().size() == 4);
  CHECK(n->input(1)->name() == "d");
  CHECK(n->input(2)->name() == "x");
  CHECK(n->input(3)->name() == "w");
  const Attribute& then_branch = n->attrs().at("then_branch");
  CHECK(then_branch.kind == AttrKind::Graph);
  CHECK(then_branch.i == 3);
  CHECK(then_branch.g->inputs().size() == 3);
  CHECK(then_branch.g->inputs()[0]->dtype() == DType::Bool);  // typed from the outer value
  CHECK(then_branch.g->inputs()[1]->dtype() == DType::Float32);

  // Exported as ONNX has it (the checker runs in save_onnx), and read back the same.
  save_onnx(*g, dir.file("again.onnx"));
  const auto again = load_onnx(dir.file("again.onnx"));
  CHECK(again->dump() == g->dump());
  CHECK(again->nodes()[0]->inputs().size() == 4);

  Session s(dir.file("again.onnx"));
  const Tensor x = floats({1, -2, 3});
  CHECK(values(s.run({{"x", x}, {"c", flag(true)}, {"d", flag(true)}}).at("y")) == std::vector<float>{11, 18, 33});
  CHECK(values(s.run({{"x", x}, {"c", flag(false)}, {"d", flag(true)}}).at("y")) == std::vector<float>{-1, 2, -3});
  CHECK(values(s.run({{"x", x}, {"c", flag(false)}, {"d", flag(false)}}).at("y")) == std::vector<float>{10, -40, 90});
  // The conditions and x are small inputs, which key plans: one per (c, d),
  // the If computed in each when it is built.
  CHECK(s.compiled_plans() == 3);
}

TEST_CASE("a branch whose outputs do not match the node is refused naming it", "[control][if]") {
  TempDir dir;
  auto m = make_model(13);
  add_input(m, "c", {}, onnx::TensorProto::BOOL);
  add_input(m, "x", {2});
  auto* n = add_node(m, "If", {"c"}, {"y", "z"}, "two");
  body_node(branch(n, "then_branch", "a"), "Neg", {"x"}, {"a"});
  body_node(branch(n, "else_branch", "b"), "Abs", {"x"}, {"b"});
  add_output(m, "y", {2});
  add_output(m, "z", {2});
  Session s(dir.write("bad.onnx", m));
  CHECK_THROWS_WITH(s.run({{"c", flag(true)}, {"x", floats({1, 2})}}),
                    Contains("'two' (If): then_branch has 1 outputs, the node 2"));
}

// z = Gather(x, NonZero(x > 0)) * 2, and its count: the NonZero's output
// length is the run's number of positive values.
TEST_CASE("a plan stops before a node whose output size a run-time value decides, and continues",
          "[control][stages]") {
  TempDir dir;
  auto m = make_model(13);
  add_input(m, "x", {-1});
  add_float_initializer(m, "zero", {}, {0});
  add_float_initializer(m, "two", {}, {2});
  add_node(m, "Greater", {"x", "zero"}, {"positive"});
  add_node(m, "NonZero", {"positive"}, {"where"});
  auto* sq = add_node(m, "Squeeze", {"where", "axis0"}, {"at"});
  (void)sq;
  auto* axis = m.mutable_graph()->add_initializer();
  axis->set_name("axis0");
  axis->set_data_type(onnx::TensorProto::INT64);
  axis->add_dims(1);
  axis->add_int64_data(0);
  add_node(m, "Gather", {"x", "at"}, {"picked"});
  add_node(m, "Mul", {"picked", "two"}, {"z"});
  add_node(m, "Shape", {"z"}, {"count"});
  add_output(m, "z", {-1});
  add_output(m, "count", {1}, onnx::TensorProto::INT64);
  Session s(dir.write("nonzero.onnx", m));
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (int run = 0; run < 40; ++run) {
    std::vector<float> x(100);  // over 64 values: not a shape-like input to key plans by
    for (float& v : x) v = normal(rng);
    std::vector<float> want;
    for (float v : x)
      if (v > 0) want.push_back(2 * v);
    const auto out = s.run({{"x", floats(x)}});
    CHECK(values(out.at("z")) == want);
    CHECK(out.at("count").data_as<int64_t>()[0] == static_cast<int64_t>(want.size()));
  }
  CHECK(s.compiled_plans() == 1);  // continuations live under it, the newest 16
  // The plan before the stop is what plan_stats describes.
  const auto stats = s.plan_stats({{"x", floats(std::vector<float>(100, 1.0f))}});
  CHECK(std::none_of(stats.step_descriptions.begin(), stats.step_descriptions.end(),
                     [](const std::string& d) { return d.find("NonZero") != std::string::npos; }));
}

// NonMaxSuppression checks a candidate only against kept boxes that share a
// cell of a grid; a brute-force greedy pass over every kept box is the oracle.
TEST_CASE("NonMaxSuppression's grid search keeps what the brute-force pass keeps", "[control][nms]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0, 1);
  const int64_t n = 3000;
  std::vector<float> boxes(static_cast<size_t>(n * 4)), scores(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    // Clusters of small boxes, a few huge ones, some degenerate.
    const float cx = std::floor(u(rng) * 8) * 50 + u(rng) * 20, cy = u(rng) * 400;
    const float w = i % 97 == 0 ? 600 : i % 31 == 0 ? 0 : 5 + u(rng) * 40, h = 5 + u(rng) * 40;
    boxes[static_cast<size_t>(i * 4) + 0] = cy - h / 2;
    boxes[static_cast<size_t>(i * 4) + 1] = cx - w / 2;
    boxes[static_cast<size_t>(i * 4) + 2] = cy + h / 2;
    boxes[static_cast<size_t>(i * 4) + 3] = cx + w / 2;
    scores[static_cast<size_t>(i)] = std::floor(u(rng) * 1000) / 1000;  // ties too
  }
  const float iou_max = 0.4f;
  auto iou = [&](int64_t p, int64_t q) {
    const float* a = &boxes[static_cast<size_t>(p * 4)];
    const float* b = &boxes[static_cast<size_t>(q * 4)];
    const double hh = std::max(0.0, std::min<double>(a[2], b[2]) - std::max<double>(a[0], b[0]));
    const double ww = std::max(0.0, std::min<double>(a[3], b[3]) - std::max<double>(a[1], b[1]));
    const double inter = hh * ww;
    const double uni = double(a[2] - a[0]) * (a[3] - a[1]) + double(b[2] - b[0]) * (b[3] - b[1]) - inter;
    return inter <= 0 || uni <= 0 ? 0.0 : inter / uni;
  };
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
    return scores[static_cast<size_t>(p)] > scores[static_cast<size_t>(q)];
  });
  std::vector<int64_t> want;
  for (int64_t i : order)
    if (std::none_of(want.begin(), want.end(), [&](int64_t j) { return iou(i, j) > iou_max; })) want.push_back(i);

  TempDir dir;
  auto m = make_model(13);
  add_input(m, "boxes", {1, n, 4});
  add_input(m, "scores", {1, 1, n});
  add_float_initializer(m, "iou", {1}, {iou_max});
  auto* most = m.mutable_graph()->add_initializer();
  most->set_name("most");
  most->set_data_type(onnx::TensorProto::INT64);
  most->add_dims(1);
  most->add_int64_data(INT64_MAX);  // ONNX's "no limit"
  add_node(m, "NonMaxSuppression", {"boxes", "scores", "most", "iou"}, {"kept"});
  add_output(m, "kept", {-1, 3}, onnx::TensorProto::INT64);
  Session s(dir.write("nms.onnx", m));
  Tensor b(DType::Float32, {1, n, 4}), sc(DType::Float32, {1, 1, n});
  std::copy(boxes.begin(), boxes.end(), b.mutable_data_as<float>());
  std::copy(scores.begin(), scores.end(), sc.mutable_data_as<float>());
  const Tensor kept = s.run({{"boxes", b}, {"scores", sc}}).at("kept");
  REQUIRE(kept.dims() == std::vector<int64_t>{static_cast<int64_t>(want.size()), 3});
  std::vector<int64_t> got;
  for (int64_t k = 0; k < kept.dims()[0]; ++k) got.push_back(kept.data_as<int64_t>()[k * 3 + 2]);
  CHECK(got == want);
}
