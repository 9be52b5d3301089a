// Bad input gets one clear bnfold::Error naming the file, the node and the
// problem; never a crash, an abort or a huge allocation.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "bnfold/graph/error.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "tests/onnx_builder.hpp"

namespace fs = std::filesystem;
using namespace bnfold;
using namespace bnfold::test;
using Catch::Matchers::Contains;

namespace {

// The message of the bnfold::Error that loading `path` throws ("" if none).
std::string load_error(const std::string& path, ImportOptions options = {}) {
  try {
    load_onnx(path, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// x[1,2,4,4] -> Conv(W) -> y : a valid starting point that tests then break.
onnx::ModelProto conv_model() {
  auto m = make_model();
  add_input(m, "x", {1, 2, 4, 4});
  add_float_initializer(m, "W", {3, 2, 1, 1}, {1, 2, 3, 4, 5, 6});
  add_node(m, "Conv", {"x", "W"}, {"y"}, "conv");
  add_output(m, "y");
  return m;
}

}  // namespace

TEST_CASE("a valid model loads", "[import]") {
  TempDir dir;
  const auto g = load_onnx(dir.write("ok.onnx", conv_model()));
  CHECK(g->num_nodes() == 1);
  CHECK(g->value("y").dtype() == DType::Float32);
  CHECK(g->value("y").shape().str() == "[1,3,4,4]");  // from ONNX shape inference
}

TEST_CASE("missing file, folder, garbage and truncated files", "[import][errors]") {
  TempDir dir;
  CHECK_THAT(load_error(dir.file("nope.onnx")), Contains("nope.onnx: no such file"));
  CHECK_THAT(load_error(dir.path()), Contains("not a regular file"));
  CHECK_THAT(load_error(dir.write("text.onnx", std::string("this is not a model\n"))),
             Contains("not an ONNX model"));
  CHECK_THAT(load_error(dir.write("empty.onnx", std::string())), Contains("not an ONNX model"));

  const std::string bytes = conv_model().SerializeAsString();
  const std::string cut = dir.write("cut.onnx", bytes.substr(0, bytes.size() / 2));
  const std::string msg = load_error(cut);
  CHECK_THAT(msg, Contains("cut.onnx: not an ONNX model"));
  CHECK_THAT(msg, Contains("truncated"));
}

TEST_CASE("a node input that nothing produces names node, index and op", "[import][errors]") {
  auto m = conv_model();
  m.mutable_graph()->mutable_node(0)->set_input(1, "W_missing");
  TempDir dir;
  const std::string msg = load_error(dir.write("m.onnx", m));
  CHECK_THAT(msg, Contains("m.onnx: node #0 'conv' (Conv): input 1 'W_missing' is not produced"));
}

TEST_CASE("two producers of one name", "[import][errors]") {
  auto m = conv_model();
  add_node(m, "Relu", {"x"}, {"y"}, "relu");
  TempDir dir;
  const std::string msg = load_error(dir.write("m.onnx", m));
  CHECK_THAT(msg, Contains("node #1 'relu' (Relu): output 'y' is already produced by node #0 'conv' (Conv)"));

  auto m2 = conv_model();
  add_node(m2, "Relu", {"x"}, {"W"}, "relu");  // clashes with an initializer
  CHECK_THAT(load_error(dir.write("m2.onnx", m2)), Contains("output 'W' is already produced by an initializer"));
}

TEST_CASE("a cycle is reported with the nodes on it", "[import][errors]") {
  auto m = make_model();
  add_input(m, "x", {2});
  add_node(m, "Add", {"x", "b"}, {"a"}, "first");
  add_node(m, "Relu", {"a"}, {"b"}, "second");
  add_output(m, "b");
  TempDir dir;
  const std::string msg = load_error(dir.write("m.onnx", m), ImportOptions{false});
  CHECK_THAT(msg, Contains("cycle"));
  CHECK_THAT(msg, Contains("'first' (Add)"));
  CHECK_THAT(msg, Contains("'second' (Relu)"));
}

TEST_CASE("initializer data that does not match its dims", "[import][errors]") {
  TempDir dir;
  auto m = conv_model();
  m.mutable_graph()->mutable_initializer(0)->mutable_float_data()->RemoveLast();
  CHECK_THAT(load_error(dir.write("a.onnx", m)),
             Contains("initializer 'W': float_data holds 5 values but dims float32[3,2,1,1] need 6"));

  auto m2 = conv_model();
  auto* w = m2.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_raw_data(std::string(20, '\0'));
  CHECK_THAT(load_error(dir.write("b.onnx", m2)),
             Contains("initializer 'W': raw_data has 20 bytes but dims float32[3,2,1,1] need 24"));

  auto m3 = conv_model();  // large raw data is taken over, not copied: checked the same
  auto* big = m3.mutable_graph()->add_initializer();
  big->set_name("big");
  big->set_data_type(onnx::TensorProto::FLOAT);
  big->add_dims(2000);
  big->set_raw_data(std::string(7996, '\0'));
  CHECK_THAT(load_error(dir.write("c.onnx", m3)),
             Contains("initializer 'big': raw_data has 7996 bytes but dims float32[2000] need 8000"));
}

TEST_CASE("negative and absurd dims fail without allocating", "[import][errors]") {
  TempDir dir;
  auto m = conv_model();
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, -3);
  CHECK_THAT(load_error(dir.write("neg.onnx", m)), Contains("initializer 'W': negative dimension -3"));

  // 2^40 elements (4 TB) claimed by a 24-byte payload: refused by the size check.
  auto big = conv_model();
  auto* w = big.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  w->add_dims(int64_t{1} << 20);
  w->add_dims(int64_t{1} << 20);
  CHECK_THAT(load_error(dir.write("big.onnx", big)),
             Contains("float_data holds 6 values but dims float32[1048576,1048576] need 1099511627776"));

  // 2^62 elements: the byte size itself would overflow.
  w->set_dims(0, int64_t{1} << 31);
  w->set_dims(1, int64_t{1} << 31);
  CHECK_THAT(load_error(dir.write("huge.onnx", big)), Contains("too large"));

  // int64 overflow of the element count
  w->add_dims(int64_t{1} << 31);
  CHECK_THAT(load_error(dir.write("overflow.onnx", big)), Contains("overflows"));

  auto in = conv_model();
  in.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()
      ->mutable_dim(0)->set_dim_value(-1);
  CHECK_THAT(load_error(dir.write("in.onnx", in)), Contains("graph input 'x': negative dimension -1"));
}

TEST_CASE("unknown data types", "[import][errors]") {
  TempDir dir;
  auto m = conv_model();
  m.mutable_graph()->mutable_initializer(0)->set_data_type(99);
  CHECK_THAT(load_error(dir.write("a.onnx", m)), Contains("initializer 'W': unknown data type 99"));

  auto m2 = conv_model();
  m2.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(42);
  CHECK_THAT(load_error(dir.write("b.onnx", m2)), Contains("graph input 'x': unknown data type 42"));
}

TEST_CASE("other operator domains and non-tensor inputs are refused clearly", "[import][errors]") {
  TempDir dir;
  auto m = conv_model();
  m.mutable_graph()->mutable_node(0)->set_domain("com.microsoft");
  auto* op = m.add_opset_import();
  op->set_domain("com.microsoft");
  op->set_version(1);
  CHECK_THAT(load_error(dir.write("a.onnx", m)),
             Contains("node #0 'conv' (Conv): operator domain 'com.microsoft' is not supported"));

  auto m2 = conv_model();
  auto* seq = m2.mutable_graph()->add_input();
  seq->set_name("s");
  seq->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(1);
  CHECK_THAT(load_error(dir.write("b.onnx", m2)),
             Contains("graph input 's' is a sequence; bnfold supports tensors only"));
}

TEST_CASE("a graph output nothing produces", "[import][errors]") {
  TempDir dir;
  auto m = conv_model();
  add_output(m, "ghost");
  CHECK_THAT(load_error(dir.write("a.onnx", m)),
             Contains("graph output 'ghost' is not produced by any node, initializer or graph input"));
}

TEST_CASE("models over 2 GB are refused before reading", "[import][errors]") {
  TempDir dir;
  // A sparse file: its size says 3 GB but nothing is written to disk.
  const std::string path = dir.file("huge.onnx");
  { std::ofstream(path, std::ios::binary) << "x"; }
  fs::resize_file(path, uint64_t{3} << 30);
  const std::string msg = load_error(path);
  CHECK_THAT(msg, Contains("huge.onnx: the file is 3.00 GB; protobuf cannot parse a model over 2 GB"));
  CHECK_THAT(msg, Contains("external data"));

  // The same limit guards in-memory loads (lowered here to stay small).
  const std::string bytes = conv_model().SerializeAsString();
  ImportOptions small;
  small.max_model_bytes = 16;
  try {
    load_onnx_bytes(bytes.data(), bytes.size(), "mem", "", small);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::Unsupported);
    CHECK_THAT(std::string(e.what()), Contains("mem: the model is"));
  }
}
