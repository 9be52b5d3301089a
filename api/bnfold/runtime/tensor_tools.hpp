// Helpers around running models: random inputs for a session, comparing a
// result with a reference, summarizing an output.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bnfold/graph/tensor.hpp"
#include "bnfold/runtime/session.hpp"

namespace bnfold BNFOLD_API {

// Random inputs for every required input: float ~ N(0, 1), integers in
// [0, 10), bools. The first symbolic dim of each input becomes `batch`; any
// other symbolic or unknown dim is an error naming the input.
std::map<std::string, Tensor> random_inputs(const Session& session, int64_t batch, uint64_t seed);

struct TensorDiff {
  double max_abs = 0;
  double max_rel = 0;        // |a - b| / |b| where |b| > 0
  int64_t worst_index = -1;  // element with the largest excess over the tolerance
  int64_t mismatches = 0;    // elements beyond atol + rtol * |b|
  bool shape_mismatch = false;
};
// Compares got with want element-wise (NaN equals NaN).
TensorDiff compare_tensors(const Tensor& got, const Tensor& want, double rtol, double atol);

struct TensorStats {
  double min = 0, max = 0, mean = 0, std = 0;
  int64_t nan = 0, inf = 0;
};
TensorStats tensor_stats(const Tensor& t);

// Tensors of equal dtype and trailing dims joined along dim 0 (batches of
// one run's output, say).
Tensor concat_rows(const std::vector<Tensor>& parts);

// The k largest entries of row `row` of a 2-D tensor, as (index, value).
std::vector<std::pair<int64_t, double>> top_k(const Tensor& t, int64_t row, int k);

}  // namespace bnfold
