// The graph IR: building and editing through Graph methods keeps every
// invariant verify() checks; defaults come from ONNX's schemas.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "bnfold/graph/batchnorm.hpp"
#include "bnfold/graph/error.hpp"
#include "bnfold/graph/graph.hpp"

using namespace bnfold;
using Catch::Matchers::Contains;

namespace {

Tensor floats(std::vector<int64_t> dims, std::vector<float> values) {
  Tensor t(DType::Float32, std::move(dims));
  REQUIRE(static_cast<size_t>(t.numel()) == values.size());
  std::copy(values.begin(), values.end(), t.mutable_data_as<float>());
  return t;
}

// x -> Conv(W) -> c -> Relu -> y
struct SmallGraph {
  Graph g;
  Value *x, *w, *c, *y;
  Node *conv, *relu;
  SmallGraph() {
    g.info.opsets[""] = 13;
    Shape s;
    s.rank_known = true;
    s.dims = {Dim::symbolic("N"), Dim::fixed(2), Dim::fixed(4), Dim::fixed(4)};
    x = g.add_input("x", DType::Float32, s);
    w = g.add_constant("W", floats({3, 2, 1, 1}, {1, 2, 3, 4, 5, 6}));
    conv = g.add_node("Conv", {x, w}, {"c"}, "conv");
    c = conv->output(0);
    relu = g.add_node("Relu", {c}, {"y"}, "relu");
    y = relu->output(0);
    g.add_output(y);
  }
};

}  // namespace

TEST_CASE("a graph built through Graph methods verifies", "[graph]") {
  SmallGraph s;
  s.g.verify();
  CHECK(s.c->producer() == s.conv);
  REQUIRE(s.c->uses().size() == 1);
  CHECK(s.c->uses()[0].node == s.relu);
  CHECK(s.w->is_constant());
  CHECK(s.g.required_inputs().size() == 1);
  CHECK(s.x->shape().str() == "[N,2,4,4]");
  CHECK(s.conv->label() == "node #0 'conv' (Conv)");
}

TEST_CASE("editing keeps both sides of every edge", "[graph]") {
  SmallGraph s;
  // Insert a Sigmoid between conv and relu, then take it out again.
  Node* sig = s.g.add_node("Sigmoid", {s.c}, {"s"}, "sig");
  s.g.set_input(s.relu, 0, sig->output(0));
  s.g.verify();
  CHECK(s.c->uses().size() == 1);
  CHECK(s.g.topological_order().back() == s.relu);

  s.g.replace_all_uses(sig->output(0), s.c);
  s.g.erase_node(sig);
  s.g.verify();
  CHECK(s.g.find_value("s") == nullptr);
  CHECK(s.g.num_nodes() == 2);

  // Keeping an output's name when its producer changes: rename.
  s.g.replace_output(0, s.c);
  s.g.erase_node(s.relu);
  s.g.rename_value(s.c, "y");
  s.g.verify();
  CHECK(s.g.outputs()[0]->name() == "y");
  CHECK(s.g.outputs()[0]->producer() == s.conv);
}

TEST_CASE("erase_node refuses a node whose output is still used", "[graph]") {
  SmallGraph s;
  CHECK_THROWS_WITH(s.g.erase_node(s.conv), Contains("its output 'c' is still used"));
}

TEST_CASE("unused constants are dropped, used ones kept", "[graph]") {
  SmallGraph s;
  s.g.add_constant("spare", floats({1}, {0}));
  CHECK(s.g.remove_unused_values() == 1);
  CHECK(s.g.find_value("spare") == nullptr);
  CHECK(s.g.find_value("W") != nullptr);
  s.g.verify();
}

TEST_CASE("topological order is stable and cycles are named", "[graph]") {
  Graph g;
  g.info.opsets[""] = 13;
  Value* x = g.add_input("x", DType::Float32, Shape::of({2}));
  Node* a = g.add_node("Add", {x, x}, {"a"}, "first");
  Node* b = g.add_node("Relu", {a->output(0)}, {"b"}, "second");
  g.add_output(b->output(0));
  CHECK(g.topological_order() == std::vector<Node*>{a, b});
  g.set_input(a, 1, b->output(0));  // a now needs b, which needs a
  CHECK_THROWS_WITH(g.verify(), Contains("cycle") && Contains("'first' (Add)") && Contains("'second' (Relu)"));
}

TEST_CASE("a name is defined once", "[graph]") {
  SmallGraph s;
  CHECK_THROWS_WITH(s.g.add_node("Relu", {s.x}, {"c"}, "dup"),
                    Contains("output 'c' is already produced by node #0 'conv' (Conv)"));
  CHECK(s.g.unique_name("c") == "c_1");
  CHECK(s.g.unique_name("fresh") == "fresh");
}

TEST_CASE("attribute defaults come from ONNX's schemas at the graph's opset", "[graph][attrs]") {
  SmallGraph s;
  CHECK(s.conv->attr_int("group") == 1);
  CHECK(s.conv->attr_string("auto_pad") == "NOTSET");
  Node* sm = s.g.add_node("Softmax", {s.y}, {"p"}, "softmax");
  CHECK(sm->attr_int("axis") == -1);  // opset 13
  s.g.info.opsets[""] = 11;
  CHECK(sm->attr_int("axis") == 1);  // opset 1-12 default
  Node* lr = s.g.add_node("LeakyRelu", {s.y}, {"l"});
  CHECK(lr->attr_float("alpha") == Approx(0.01f));
  CHECK_THROWS_WITH(s.conv->attr_ints("kernel_shape"),
                    Contains("node #0 'conv' (Conv): attribute 'kernel_shape' is missing and has no default"));
  s.conv->set_attr("group", Attribute::of_float(2));
  CHECK_THROWS_WITH(s.conv->attr_int("group"), Contains("attribute 'group' is float, expected int"));
}

TEST_CASE("BatchNormalization mode across opsets", "[graph][batchnorm]") {
  auto make = [](int64_t opset, size_t outputs) {
    auto g = std::make_unique<Graph>();
    g->info.opsets[""] = opset;
    Value* x = g->add_input("x", DType::Float32, Shape::of({2, 3}));
    std::vector<Value*> in = {x};
    for (const char* n : {"s", "b", "m", "v"}) in.push_back(g->add_constant(n, floats({3}, {1, 1, 1})));
    std::vector<std::string> outs = {"y", "rm", "rv", "sm", "sv"};
    outs.resize(outputs);
    Node* bn = g->add_node("BatchNormalization", in, outs, "bn");
    for (size_t k = 0; k < outputs; ++k) g->add_output(bn->output(k));
    return g;
  };
  auto g6 = make(6, 1);
  Node* bn6 = g6->nodes()[0];
  CHECK(batchnorm_attrs(*bn6).training);  // is_test defaults to 0 in BN-1/-6
  bn6->set_attr("is_test", Attribute::of_int(1));
  CHECK_FALSE(batchnorm_attrs(*bn6).training);

  CHECK_FALSE(batchnorm_attrs(*make(9, 1)->nodes()[0]).training);
  const auto a9 = batchnorm_attrs(*make(9, 5)->nodes()[0]);
  CHECK(a9.training);
  CHECK(a9.training_why == "mean/var outputs in use");

  auto g15 = make(15, 1);
  CHECK_FALSE(batchnorm_attrs(*g15->nodes()[0]).training);
  g15->nodes()[0]->set_attr("training_mode", Attribute::of_int(1));
  const auto a15 = batchnorm_attrs(*g15->nodes()[0]);
  CHECK(a15.training);
  CHECK(a15.epsilon == Approx(1e-5));
  CHECK(a15.momentum == Approx(0.9));
}

TEST_CASE("tensors: sizes are checked and copies are explicit", "[graph][tensor]") {
  CHECK_THROWS_WITH(Tensor(DType::Float32, {2, -1}), Contains("negative dimension -1"));
  CHECK_THROWS_WITH(Tensor(DType::String, {2}), Contains("cannot hold a tensor of type string"));
  Tensor a = floats({2}, {1, 2});
  Tensor shared = a;
  Tensor copy = a.clone();
  a.mutable_data_as<float>()[0] = 7;
  CHECK(shared.data_as<float>()[0] == 7);  // copies share the buffer
  CHECK(copy.data_as<float>()[0] == 1);    // clones do not
  CHECK_FALSE(copy.same_as(a));
  CHECK_THROWS_WITH(a.data_as<double>(), Contains("typed access of 8-byte elements to a float32 tensor"));
  CHECK(Tensor(DType::Float32, {}).numel() == 1);  // a scalar
  CHECK(Tensor(DType::Float32, {0, 3}).nbytes() == 0);
}

TEST_CASE("float16 and bfloat16 conversions", "[graph][dtype]") {
  CHECK(float_to_half(1.0f) == 0x3c00);
  CHECK(float_to_half(65504.0f) == 0x7bff);  // largest half
  CHECK(float_to_half(70000.0f) == 0x7c00);  // overflows to inf
  CHECK(float_to_half(-2.0f) == 0xc000);
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);
  CHECK(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
  for (uint32_t h = 0; h < 0x7c00; h += 37)  // every finite positive half survives
    CHECK(float_to_half(half_to_float(static_cast<uint16_t>(h))) == h);
  CHECK(bfloat16_to_float(float_to_bfloat16(3.0f)) == 3.0f);
  CHECK(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);  // ties to even
}

TEST_CASE("the dump shows every node, type and attribute", "[graph][dump]") {
  SmallGraph s;
  s.conv->set_attr("kernel_shape", Attribute::of_ints({1, 1}));
  const std::string d = s.g.dump();
  CHECK_THAT(d, Contains("x: float32[N,2,4,4]"));
  CHECK_THAT(d, Contains("W: float32[3,2,1,1]"));
  CHECK_THAT(d, Contains("Conv 'conv' (x, W) -> (c) {kernel_shape=[1,1]}"));
  CHECK_THAT(d, Contains("Relu 'relu' (c) -> (y)"));
}
