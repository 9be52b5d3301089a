#include "tests/model_builder.hpp"

#include <catch2/catch.hpp>

#include <random>

#include "bnfold/runtime/tensor_tools.hpp"

namespace bnfold::test {

Tensor filled(const std::vector<int64_t>& dims, const std::function<float(int64_t)>& f) {
  Tensor t(DType::Float32, dims);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data_as<float>()[i] = f(i);
  return t;
}

Tensor random_tensor(const std::vector<int64_t>& dims, uint32_t seed, float lo, float hi, DType dtype) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor f(DType::Float32, dims);
  for (int64_t i = 0; i < f.numel(); ++i) f.mutable_data_as<float>()[i] = u(rng);
  if (dtype == DType::Float32) return f;
  Tensor t(dtype, dims);
  for (int64_t i = 0; i < f.numel(); ++i) t.mutable_data_as<uint16_t>()[i] = float_to_half(f.data_as<float>()[i]);
  return t;
}

TestModel::TestModel(int64_t opset) { g->info.opsets[""] = opset; }

Value* TestModel::input(const std::string& name, const std::vector<int64_t>& dims) {
  inputs[name] = random_tensor(dims, seed++, -1, 1, dtype);
  return g->add_input(name, dtype, Shape::of(dims));
}

Value* TestModel::weight(const std::string& name, const std::vector<int64_t>& dims, float lo, float hi) {
  return g->add_constant(name, random_tensor(dims, seed++, lo, hi, dtype));
}

Value* TestModel::positive(const std::string& name, const std::vector<int64_t>& dims) {
  return weight(name, dims, 0.5f, 1.5f);
}

Value* TestModel::node(const std::string& op, const std::vector<Value*>& in, const std::string& out,
                       const std::vector<std::pair<std::string, Attribute>>& attrs,
                       const std::vector<int64_t>& out_dims) {
  const std::string name = out.empty() ? g->unique_name(op + "_out") : out;
  Node* n = g->add_node(op, in, {name}, g->unique_name(name + "_node"));
  for (const auto& [k, a] : attrs) n->set_attr(k, a);
  n->output(0)->set_dtype(dtype);
  if (!out_dims.empty()) n->output(0)->set_shape(Shape::of(out_dims));
  return n->output(0);
}

Value* TestModel::bn(Value* x, int64_t c, const std::string& out, const std::vector<int64_t>& out_dims) {
  return node("BatchNormalization",
              {x, weight(out + "_gamma", {c}, 0.5f, 1.5f), weight(out + "_beta", {c}), weight(out + "_mean", {c}),
               weight(out + "_var", {c}, 0.5f, 2.0f)},
              out, {{"epsilon", Attribute::of_float(1e-3f)}}, out_dims);
}

void check_same_outputs(const std::map<std::string, Tensor>& got, const std::map<std::string, Tensor>& want,
                        double rtol, double atol) {
  for (const auto& [name, t] : want) {
    REQUIRE(got.count(name));  // output names are kept
    const TensorDiff d = compare_tensors(got.at(name), t, rtol, atol);
    INFO(name << ": " << got.at(name).describe() << " vs " << t.describe() << ", max abs " << d.max_abs
              << ", max rel " << d.max_rel << ", worst element " << d.worst_index);
    CHECK_FALSE(d.shape_mismatch);
    CHECK(d.mismatches == 0);
  }
}

size_t count_ops(const Graph& g, const std::string& op) {
  size_t n = 0;
  for (const Node* node : g.nodes()) n += node->op_type() == op;
  return n;
}

Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }

}  // namespace bnfold::test
