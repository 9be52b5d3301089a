// A float64 twin of a model: the reference `bnfold verify` measures float32
// runs against (the reference kernels compute in double on float64 data).
#pragma once

#include "bnfold/graph/export.hpp"

#include <map>
#include <memory>
#include <string>

#include "bnfold/graph/graph.hpp"

namespace bnfold BNFOLD_API {

// A copy of g in which every float value (float32, float16, bfloat16: graph
// inputs, outputs, intermediates and constants), every Cast or CastLike to a
// float type and every float ConstantOfShape value becomes float64.
std::shared_ptr<Graph> as_float64(const Graph& g);

// The same values as float64 tensors (other dtypes unchanged).
std::map<std::string, Tensor> as_float64(const std::map<std::string, Tensor>& tensors);

}  // namespace bnfold
