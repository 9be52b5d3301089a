#include "ops/kernel.hpp"

#include "ops/op_util.hpp"

namespace bnfold::ops {

InferContext::InferContext(const Node& node, std::vector<ArgInfo> inputs)
    : node_(node), inputs_(std::move(inputs)) {
  outputs_.resize(node.outputs().size());
  output_values_.resize(node.outputs().size());
}

const ArgInfo& InferContext::input(size_t i) const {
  BNFOLD_CHECK(has_input(i), ErrorCode::InvalidModel, "{}: required input {} is missing", label(), i);
  return inputs_[i];
}

const Tensor& InferContext::constant(size_t i, const char* what) const {
  const ArgInfo& a = input(i);
  if (a.value == nullptr && !a.graph_input.empty() && product(a.dims) <= kShapeLikeInput)
    throw NeedsInputValue(a.graph_input);
  if (a.value == nullptr && !a.computed_from.empty()) throw NeedsInputValue(a.computed_from.front());
  if (a.value == nullptr)
    throw NeedsRunValue(fmt::format("{}: input {} ({}) is computed at run time and decides the output's shape",
                                    label(), i, what));
  return *a.value;
}

std::vector<int64_t> InferContext::constant_ints(size_t i, const char* what) const {
  const Tensor& t = constant(i, what);
  BNFOLD_CHECK(t.dtype() == DType::Int64 || t.dtype() == DType::Int32, ErrorCode::InvalidModel,
               "{}: input {} ({}) must be int64 or int32, got {}", label(), i, what,
               dtype_name(t.dtype()));
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  for (int64_t k = 0; k < t.numel(); ++k)
    out[static_cast<size_t>(k)] = t.dtype() == DType::Int64 ? t.data_as<int64_t>()[k]
                                                            : t.data_as<int32_t>()[k];
  return out;
}

void InferContext::set_output(size_t i, DType dtype, std::vector<int64_t> dims) {
  BNFOLD_CHECK(i < outputs_.size(), ErrorCode::Internal, "{}: no output {}", label(), i);
  checked_numel(dims);
  outputs_[i].present = has_output(i);
  outputs_[i].dtype = dtype;
  outputs_[i].dims = std::move(dims);
}

void InferContext::set_output_value(size_t i, Tensor value) {
  set_output(i, value.dtype(), value.dims());
  output_values_[i] = std::move(value);
}

}  // namespace bnfold::ops
