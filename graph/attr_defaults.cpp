#include "graph/attr_defaults.hpp"

#include <onnx/defs/schema.h>

#include <fmt/format.h>

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

std::string onnx_arity_problem(const std::string& op_type, const std::string& domain, int64_t opset,
                               const std::vector<bool>& given, size_t outputs) {
  if (opset <= 0) return "";
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(
      op_type, static_cast<int>(opset), domain.empty() ? onnx::ONNX_DOMAIN : domain);
  if (!schema) return "";
  const size_t n = given.size();
  if (n < static_cast<size_t>(schema->min_input()) || n > static_cast<size_t>(schema->max_input()))
    return fmt::format("{} inputs; {}-{} takes {} to {}", n, op_type, schema->since_version(), schema->min_input(),
                       schema->max_input());
  if (outputs < static_cast<size_t>(schema->min_output()) || outputs > static_cast<size_t>(schema->max_output()))
    return fmt::format("{} outputs; {}-{} gives {} to {}", outputs, op_type, schema->since_version(),
                       schema->min_output(), schema->max_output());
  const auto& formal = schema->inputs();
  for (size_t i = 0; i < n && i < formal.size(); ++i)
    if (!given[i] && formal[i].GetOption() == onnx::OpSchema::Single)
      return fmt::format("input {} ('{}') is required but omitted", i, formal[i].GetName());
  return "";
}

}  // namespace bnfold
