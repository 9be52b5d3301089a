#include "bnfold/ops/load.hpp"

#include "ops/op_table.hpp"

namespace bnfold {

namespace {

// Given as ImportOptions::has_kernel: the op table answers for the graph layer.
ImportOptions with_op_table(ImportOptions o) {
  if (!o.has_kernel) o.has_kernel = [](const std::string& op, int64_t opset) { return ops::find_op(op, opset) != nullptr; };
  return o;
}

}  // namespace

std::unique_ptr<Graph> load_onnx(const std::string& path, const ImportOptions& options) {
  return import_onnx(path, with_op_table(options));
}

std::unique_ptr<Graph> load_onnx_bytes(const void* data, size_t size, const std::string& name,
                                       const std::string& base_dir, const ImportOptions& options) {
  return import_onnx_bytes(data, size, name, base_dir, with_op_table(options));
}

}  // namespace bnfold
