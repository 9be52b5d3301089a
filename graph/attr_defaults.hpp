// Internal: what ONNX's own operator schemas say (attribute defaults, input
// and output counts), so that every op and opset is covered from one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bnfold/graph/attribute.hpp"

namespace bnfold {

// The default of attribute `name` of op `op_type` in `domain` at `opset`
// (the schema in force at that opset); nullopt when the schema gives none.
std::optional<Attribute> onnx_attr_default(const std::string& op_type, const std::string& domain,
                                           int64_t opset, const std::string& name);

// "" when a node of op_type at opset may have these inputs and outputs
// (given[i]: input i is named, not omitted), else what is wrong: too few or
// too many, or a required input omitted. "" too when no schema is known (the
// op is then refused as unsupported later).
std::string onnx_arity_problem(const std::string& op_type, const std::string& domain, int64_t opset,
                               const std::vector<bool>& given, size_t outputs);

}  // namespace bnfold
