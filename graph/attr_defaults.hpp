// Internal: ONNX's attribute defaults, read from ONNX's own operator schemas so
// that every op and opset is covered from one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "graph/attribute.hpp"

namespace bnfold {

// The default of attribute `name` of op `op_type` in `domain` at `opset`
// (the schema in force at that opset); nullopt when the schema gives none.
std::optional<Attribute> onnx_attr_default(const std::string& op_type, const std::string& domain,
                                           int64_t opset, const std::string& name);

}  // namespace bnfold
