// Test helper: builds ONNX models (good and deliberately broken) directly as
// protobuf messages, and temporary folders to write them to.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace bnfold::test {

// A model with one opset import of the default domain.
onnx::ModelProto make_model(int64_t opset = 13, int64_t ir_version = 8);
// dims: -1 makes a symbolic "N" dim.
onnx::ValueInfoProto* add_input(onnx::ModelProto& m, const std::string& name,
                                const std::vector<int64_t>& dims, int elem_type = 1);
onnx::ValueInfoProto* add_output(onnx::ModelProto& m, const std::string& name,
                                 const std::vector<int64_t>& dims = {}, int elem_type = 1);
onnx::NodeProto* add_node(onnx::ModelProto& m, const std::string& op,
                          const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& name = "");
onnx::TensorProto* add_float_initializer(onnx::ModelProto& m, const std::string& name,
                                         const std::vector<int64_t>& dims,
                                         const std::vector<float>& values);
void set_int_attr(onnx::NodeProto* n, const std::string& name, int64_t v);

// A folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& bytes) const;
  std::string write(const std::string& name, const onnx::ModelProto& m) const;

 private:
  std::string path_;
};

}  // namespace bnfold::test
