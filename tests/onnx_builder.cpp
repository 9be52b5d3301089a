#include "tests/onnx_builder.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace bnfold::test {

onnx::ModelProto make_model(int64_t opset, int64_t ir_version) {
  onnx::ModelProto m;
  m.set_ir_version(ir_version);
  m.set_producer_name("bnfold-tests");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  m.mutable_graph()->set_name("test");
  return m;
}

static void set_type(onnx::ValueInfoProto* vi, const std::vector<int64_t>& dims, int elem_type) {
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0) dim->set_dim_param("N");
    else dim->set_dim_value(d);
  }
}

onnx::ValueInfoProto* add_input(onnx::ModelProto& m, const std::string& name,
                                const std::vector<int64_t>& dims, int elem_type) {
  auto* vi = m.mutable_graph()->add_input();
  vi->set_name(name);
  set_type(vi, dims, elem_type);
  return vi;
}

onnx::ValueInfoProto* add_output(onnx::ModelProto& m, const std::string& name,
                                 const std::vector<int64_t>& dims, int elem_type) {
  auto* vi = m.mutable_graph()->add_output();
  vi->set_name(name);
  set_type(vi, dims, elem_type);
  if (dims.empty()) vi->mutable_type()->mutable_tensor_type()->clear_shape();
  return vi;
}

onnx::NodeProto* add_node(onnx::ModelProto& m, const std::string& op,
                          const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& name) {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  if (!name.empty()) n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

onnx::TensorProto* add_float_initializer(onnx::ModelProto& m, const std::string& name,
                                         const std::vector<int64_t>& dims,
                                         const std::vector<float>& values) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
  return t;
}

void set_int_attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "bnfold-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& bytes) const {
  const std::string p = file(name);
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

std::string TempDir::write(const std::string& name, const onnx::ModelProto& m) const {
  return write(name, m.SerializeAsString());
}

}  // namespace bnfold::test
