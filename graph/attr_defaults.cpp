#include "graph/attr_defaults.hpp"

#include <onnx/defs/schema.h>

#include "graph/onnx_convert.hpp"

namespace bnfold {

std::optional<Attribute> onnx_attr_default(const std::string& op_type, const std::string& domain,
                                           int64_t opset, const std::string& name) {
  if (opset <= 0) return std::nullopt;
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(
      op_type, static_cast<int>(opset), domain.empty() ? onnx::ONNX_DOMAIN : domain);
  if (!schema) return std::nullopt;
  auto it = schema->attributes().find(name);
  if (it == schema->attributes().end() || !it->second.default_value.has_type()) return std::nullopt;
  return attribute_from_proto(it->second.default_value, "", op_type + " schema");
}

}  // namespace bnfold
