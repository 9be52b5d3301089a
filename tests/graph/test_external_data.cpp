// External data: read safely (no escapes, bounds checked) and written back.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "bnfold/graph/error.hpp"
#include "bnfold/graph/graph.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "tests/onnx_builder.hpp"

namespace fs = std::filesystem;
using namespace bnfold;
using namespace bnfold::test;
using Catch::Matchers::Contains;

namespace {

const std::vector<float> kWeights = {1, 2, 3, 4, 5, 6};

std::string weight_bytes() {
  return std::string(reinterpret_cast<const char*>(kWeights.data()), kWeights.size() * 4);
}

// x -> Conv(W) -> y, with W's 24 bytes in an external file.
onnx::ModelProto external_model(const std::string& location, int64_t offset, int64_t length) {
  auto m = make_model();
  add_input(m, "x", {1, 2, 4, 4});
  auto* w = add_float_initializer(m, "W", {3, 2, 1, 1}, {});
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [w](const char* k, const std::string& v) {
    auto* e = w->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location);
  if (offset >= 0) add("offset", std::to_string(offset));
  if (length >= 0) add("length", std::to_string(length));
  add_node(m, "Conv", {"x", "W"}, {"y"}, "conv");
  add_output(m, "y");
  return m;
}

std::string load_error(const std::string& path) {
  try {
    load_onnx(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("external data inside the model folder loads", "[external]") {
  TempDir dir;
  dir.write("w.bin", std::string(8, 'z') + weight_bytes());
  auto g = load_onnx(dir.write("m.onnx", external_model("w.bin", 8, 24)));
  const Tensor& w = g->value("W").data();
  REQUIRE(w.numel() == 6);
  CHECK(w.data_as<float>()[5] == 6.0f);

  fs::create_directory(dir.file("sub"));
  dir.write("sub/w.bin", weight_bytes());
  CHECK(load_error(dir.write("m2.onnx", external_model("sub/w.bin", -1, -1))).empty());
}

TEST_CASE("external data that escapes the folder is refused", "[external][errors]") {
  TempDir outer;
  fs::create_directory(outer.file("model"));
  outer.write("secret.bin", weight_bytes());
  const std::string dir = outer.file("model");
  auto write = [&](const std::string& name, const onnx::ModelProto& m) {
    std::ofstream(dir + "/" + name, std::ios::binary) << m.SerializeAsString();
    return dir + "/" + name;
  };
  CHECK_THAT(load_error(write("a.onnx", external_model("../secret.bin", 0, 24))),
             Contains("initializer 'W': external data location '../secret.bin' must not contain '..'"));
  CHECK_THAT(load_error(write("b.onnx", external_model("/etc/passwd", 0, 24))),
             Contains("must be a path relative to the model's folder"));
  fs::create_symlink(outer.file("secret.bin"), dir + "/link.bin");
  CHECK_THAT(load_error(write("c.onnx", external_model("link.bin", 0, 24))),
             Contains("outside the model's folder"));
  CHECK_THAT(load_error(write("d.onnx", external_model("missing.bin", 0, 24))),
             Contains("external data file 'missing.bin' not found"));
}

TEST_CASE("external data bounds are checked against file and tensor", "[external][errors]") {
  TempDir dir;
  dir.write("w.bin", weight_bytes());  // 24 bytes
  CHECK_THAT(load_error(dir.write("a.onnx", external_model("w.bin", 16, 24))),
             Contains("external data runs past the end of 'w.bin'"));
  CHECK_THAT(load_error(dir.write("b.onnx", external_model("w.bin", 0, 20))),
             Contains("external data length 20 does not match the tensor's 24 bytes"));
  CHECK_THAT(load_error(dir.write("c.onnx", external_model("w.bin", 100, -1))),
             Contains("offset 100 is past the end"));
  // A huge declared tensor with a small file: refused before allocating.
  auto m = external_model("w.bin", 0, -1);
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 36);
  CHECK_THAT(load_error(dir.write("d.onnx", m)), Contains("runs past the end"));

  const std::string bytes = external_model("w.bin", 0, 24).SerializeAsString();
  try {
    load_onnx_bytes(bytes.data(), bytes.size(), "memory");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK_THAT(std::string(e.what()), Contains("needs the model's folder"));
  }
}

TEST_CASE("export writes large tensors as external data and reads them back", "[external][export]") {
  TempDir dir;
  auto m = make_model();
  add_input(m, "x", {-1, 64});
  std::vector<float> big(64 * 32);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i) * 0.5f;
  add_float_initializer(m, "W", {64, 32}, big);
  add_float_initializer(m, "b", {32}, std::vector<float>(32, 0.25f));
  add_node(m, "MatMul", {"x", "W"}, {"xw"}, "mm");
  add_node(m, "Add", {"xw", "b"}, {"y"}, "add");
  add_output(m, "y");
  auto g = load_onnx(dir.write("in.onnx", m));

  ExportOptions opts;
  opts.external_file = "out.onnx.data";
  opts.external_threshold = 1024;  // W (8 KB) goes out, b (128 B) stays inline
  save_onnx(*g, dir.file("out.onnx"), opts);  // also runs ONNX's checker
  CHECK(fs::file_size(dir.file("out.onnx.data")) == big.size() * 4);
  CHECK(fs::file_size(dir.file("out.onnx")) < 2000);

  auto g2 = load_onnx(dir.file("out.onnx"));
  CHECK(g2->dump() == g->dump());
  CHECK(g2->value("W").data().same_as(g->value("W").data()));
  CHECK(g2->value("b").data().same_as(g->value("b").data()));

  opts.external_file = "../escape.data";
  CHECK_THROWS_WITH(save_onnx(*g, dir.file("bad.onnx"), opts),
                    Contains("must be a plain file name in the model's folder"));
}

// save_onnx checks what it wrote with ONNX's checker: the proto itself when
// every weight is inline, the file (and its side file) with external data.
// Either way a model the checker rejects is refused, and nothing is left at
// the path.
TEST_CASE("save_onnx refuses a model ONNX's checker rejects, inline or with external data", "[external][export]") {
  TempDir dir;
  Graph g;
  g.info.opsets[""] = 13;
  Shape s;
  s.rank_known = true;
  s.dims = {Dim::fixed(1), Dim::fixed(512)};
  Value* x = g.add_input("x", DType::Float32, s);
  Tensor w(DType::Float32, {1, 512});
  Node* add = g.add_node("Add", {x, g.add_constant("W", std::move(w))}, {"y"}, "add");
  add->output(0)->set_dtype(DType::Float32);
  add->output(0)->set_shape(s);
  g.add_output(add->output(0));
  save_onnx(g, dir.file("good.onnx"));  // accepted as built
  CHECK(fs::exists(dir.file("good.onnx")));

  add->set_attr("bogus", Attribute::of_int(1));  // Add has no attributes
  CHECK_THROWS_WITH(save_onnx(g, dir.file("inline.onnx")),
                    Contains("inline.onnx: the ONNX checker rejects the model") && Contains("bogus"));
  CHECK_FALSE(fs::exists(dir.file("inline.onnx")));
  ExportOptions opts;
  opts.external_file = "external.onnx.data";
  opts.external_threshold = 1024;  // W's 2 KB go out
  CHECK_THROWS_WITH(save_onnx(g, dir.file("external.onnx"), opts),
                    Contains("external.onnx: the ONNX checker rejects the model") && Contains("bogus"));
  CHECK_FALSE(fs::exists(dir.file("external.onnx")));
}
