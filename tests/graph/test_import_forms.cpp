// Every TensorProto storage form and Constant attribute form imports to the
// same bytes; IR < 4 initializers listed as inputs are constants.
#include <catch2/catch.hpp>

#include <cstring>

#include "bnfold/graph/error.hpp"
#include "bnfold/graph/inspect.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "tests/onnx_builder.hpp"

using namespace bnfold;
using namespace bnfold::test;
using Catch::Matchers::Contains;

namespace {

// A model whose graph outputs are exactly the given initializers/constants.
std::unique_ptr<Graph> load(const onnx::ModelProto& m) {
  TempDir dir;
  return load_onnx(dir.write("m.onnx", m));
}

onnx::TensorProto* tensor(onnx::ModelProto& m, const std::string& name, int dtype,
                          std::vector<int64_t> dims) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(dtype);
  for (int64_t d : dims) t->add_dims(d);
  add_output(m, name, dims, dtype);
  return t;
}

}  // namespace

TEST_CASE("every TensorProto storage form", "[import][forms]") {
  using TP = onnx::TensorProto;
  auto m = make_model();
  auto* f = tensor(m, "f32", TP::FLOAT, {2});
  f->add_float_data(1.5f);
  f->add_float_data(-2.0f);
  auto* raw = tensor(m, "raw", TP::FLOAT, {2});
  const float rv[2] = {3.0f, 4.0f};
  raw->set_raw_data(std::string(reinterpret_cast<const char*>(rv), 8));
  auto* h = tensor(m, "f16", TP::FLOAT16, {2});
  h->add_int32_data(0x3c00);  // 1.0
  h->add_int32_data(0xc000);  // -2.0
  auto* b = tensor(m, "bool", TP::BOOL, {3});
  for (int v : {1, 0, 1}) b->add_int32_data(v);
  auto* i8 = tensor(m, "i8", TP::INT8, {2});
  i8->add_int32_data(-128);
  i8->add_int32_data(127);
  auto* u8 = tensor(m, "u8", TP::UINT8, {1});
  u8->add_int32_data(255);
  auto* i16 = tensor(m, "i16", TP::INT16, {1});
  i16->add_int32_data(-300);
  auto* i64 = tensor(m, "i64", TP::INT64, {2});
  i64->add_int64_data(int64_t{1} << 40);
  i64->add_int64_data(-1);
  auto* d = tensor(m, "f64", TP::DOUBLE, {1});
  d->add_double_data(0.125);
  auto* u32 = tensor(m, "u32", TP::UINT32, {1});
  u32->add_uint64_data(4000000000u);
  auto* u64 = tensor(m, "u64", TP::UINT64, {1});
  u64->add_uint64_data(uint64_t{1} << 63);
  auto* bf = tensor(m, "bf16", TP::BFLOAT16, {1});
  bf->add_int32_data(0x4040);  // 3.0
  auto* empty = tensor(m, "empty", TP::FLOAT, {0, 4});
  (void)empty;

  const auto g = load(m);
  auto v = [&](const char* name, int64_t i) { return g->value(name).data().value_at(i); };
  CHECK(v("f32", 0) == 1.5);
  CHECK(v("f32", 1) == -2.0);
  CHECK(v("raw", 1) == 4.0);
  CHECK(v("f16", 0) == 1.0);
  CHECK(v("f16", 1) == -2.0);
  CHECK(g->value("f16").data().nbytes() == 4);
  CHECK(v("bool", 0) == 1.0);
  CHECK(v("bool", 1) == 0.0);
  CHECK(v("i8", 0) == -128);
  CHECK(v("i8", 1) == 127);
  CHECK(v("u8", 0) == 255);
  CHECK(v("i16", 0) == -300);
  CHECK(g->value("i64").data().data_as<int64_t>()[0] == (int64_t{1} << 40));
  CHECK(v("f64", 0) == 0.125);
  CHECK(v("u32", 0) == 4000000000.0);
  CHECK(g->value("u64").data().data_as<uint64_t>()[0] == (uint64_t{1} << 63));
  CHECK(v("bf16", 0) == 3.0);
  CHECK(g->value("empty").data().numel() == 0);
}

TEST_CASE("large raw weights are taken over from the parsed file, from a file or from bytes", "[import][forms]") {
  using TP = onnx::TensorProto;
  auto m = make_model();
  std::vector<double> values(3000);  // 24 KB: taken over (from 4 KB); the 3-element one is copied
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.5 * static_cast<double>(i) - 7;
  tensor(m, "big", TP::DOUBLE, {3, 1000})
      ->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double)));
  const int64_t small[3] = {-1, 2, int64_t{1} << 50};
  tensor(m, "small", TP::INT64, {3})->set_raw_data(std::string(reinterpret_cast<const char*>(small), sizeof small));
  const std::string bytes = m.SerializeAsString();
  for (const auto& g : {load(m), load_onnx_bytes(bytes.data(), bytes.size(), "memory")}) {
    const Tensor& big = g->value("big").data();
    REQUIRE(big.dims() == std::vector<int64_t>{3, 1000});
    CHECK(big.owns_data());
    CHECK(reinterpret_cast<uintptr_t>(big.data()) % alignof(double) == 0);
    CHECK(std::memcmp(big.data(), values.data(), big.nbytes()) == 0);
    CHECK(std::memcmp(g->value("small").data().data(), small, sizeof small) == 0);
  }
}

TEST_CASE("Constant nodes in all their attribute forms", "[import][forms]") {
  auto m = make_model();
  auto constant = [&](const std::string& out) {
    auto* n = add_node(m, "Constant", {}, {out});
    add_output(m, out);
    return n->add_attribute();
  };
  auto* a = constant("value");
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  a->mutable_t()->add_dims(1);
  a->mutable_t()->add_float_data(2.5f);
  a = constant("vf");
  a->set_name("value_float");
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(0.5f);
  a = constant("vfs");
  a->set_name("value_floats");
  a->set_type(onnx::AttributeProto::FLOATS);
  a->add_floats(1);
  a->add_floats(2);
  a = constant("vi");
  a->set_name("value_int");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(-4);
  a = constant("vis");
  a->set_name("value_ints");
  a->set_type(onnx::AttributeProto::INTS);
  for (int k = 0; k < 3; ++k) a->add_ints(k * 10);
  a = constant("sparse");
  a->set_name("sparse_value");
  a->set_type(onnx::AttributeProto::SPARSE_TENSOR);
  auto* sp = a->mutable_sparse_tensor();
  sp->add_dims(2);
  sp->add_dims(3);
  sp->mutable_values()->set_data_type(onnx::TensorProto::FLOAT);
  sp->mutable_values()->add_dims(2);
  sp->mutable_values()->add_float_data(7);
  sp->mutable_values()->add_float_data(8);
  sp->mutable_indices()->set_data_type(onnx::TensorProto::INT64);
  sp->mutable_indices()->add_dims(2);
  sp->mutable_indices()->add_int64_data(1);  // linear index (0,1)
  sp->mutable_indices()->add_int64_data(5);  // (1,2)

  const auto g = load(m);
  CHECK(g->num_nodes() == 0);  // Constant nodes become constants
  CHECK(g->value("value").data().value_at(0) == 2.5);
  CHECK(g->value("vf").data().rank() == 0);
  CHECK(g->value("vf").data().value_at(0) == 0.5);
  CHECK(g->value("vfs").data().describe() == "float32[2]");
  CHECK(g->value("vi").data().dtype() == DType::Int64);
  CHECK(g->value("vi").data().data_as<int64_t>()[0] == -4);
  CHECK(g->value("vis").data().data_as<int64_t>()[2] == 20);
  const Tensor& s = g->value("sparse").data();
  CHECK(s.describe() == "float32[2,3]");
  CHECK(s.value_at(0) == 0);
  CHECK(s.value_at(1) == 7);
  CHECK(s.value_at(5) == 8);
}

TEST_CASE("IR < 4: initializers listed as inputs are constants, IR >= 4 overridable", "[import][forms]") {
  for (int64_t ir : {3, 7}) {
    auto m = make_model(6, ir);
    add_input(m, "x", {2, 3});
    add_input(m, "W", {3, 2});
    add_float_initializer(m, "W", {3, 2}, {1, 2, 3, 4, 5, 6});
    add_node(m, "MatMul", {"x", "W"}, {"y"}, "mm");
    add_output(m, "y");
    TempDir dir;
    const auto g = load_onnx(dir.write("m.onnx", m));
    const Value& w = g->value("W");
    CHECK(w.is_graph_input());
    CHECK(w.is_constant() == (ir < 4));
    CHECK(w.is_overridable() == (ir >= 4));
    REQUIRE(g->required_inputs().size() == 1);
    CHECK(g->required_inputs()[0]->name() == "x");
    CHECK(summarize(*g).inputs.size() == 1);

    // A constant that is not an input: IR 3 needs it written as a Constant node.
    g->add_constant("extra", Tensor(DType::Float32, {1}));
    g->add_output(&g->value("extra"));
    save_onnx(*g, dir.file("out.onnx"));  // the checker accepts it
    const auto g2 = load_onnx(dir.file("out.onnx"));
    CHECK(g2->dump() == g->dump());
  }
}

TEST_CASE("string tensors and functions are refused with a reason", "[import][forms]") {
  TempDir dir;
  auto m = make_model();
  auto* t = tensor(m, "s", onnx::TensorProto::STRING, {1});
  t->add_string_data("hello");
  CHECK_THROWS_WITH(load_onnx(dir.write("a.onnx", m)),
                    Contains("initializer 's': string tensors are not supported"));
}
