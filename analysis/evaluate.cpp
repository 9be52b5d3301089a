#include "analysis/evaluate.hpp"

#include <algorithm>

#include "graph/check.hpp"
#include "bnfold/runtime/tensor_tools.hpp"

namespace bnfold {

int class_output(const std::vector<OutputSpec>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i)
    if (dtype_is_float(outputs[i].dtype) && outputs[i].dims.size() == 2 && outputs[i].dims[1] > 1)
      return static_cast<int>(i);
  return -1;
}

void check_labels_fit(const std::vector<int64_t>& labels, int64_t classes, const std::string& output) {
  const auto worst = std::max_element(labels.begin(), labels.end());
  BNFOLD_CHECK(worst == labels.end() || *worst < classes, ErrorCode::InvalidArgument,
               "labels: {} (sample {}) is not a class of the model, whose output '{}' has {} classes (0..{})", *worst,
               worst - labels.begin(), output, classes, classes - 1);
}

double top_k_accuracy(const Tensor& scores, const std::vector<int64_t>& labels, int k, const std::string& what) {
  const int64_t n = scores.dims()[0];
  BNFOLD_CHECK(n <= static_cast<int64_t>(labels.size()) && n > 0, ErrorCode::Internal, "{}: {} scores, {} labels",
               what, n, labels.size());
  int64_t hits = 0;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t want = labels[static_cast<size_t>(r)];
    for (const auto& [cls, v] : top_k(scores, r, k)) hits += cls == want;
  }
  return static_cast<double>(hits) / static_cast<double>(n);
}

double top1_agreement(const Tensor& a, const Tensor& b) {
  const int64_t n = std::min(a.dims()[0], b.dims()[0]);
  if (n == 0) return 1;
  int64_t same = 0;
  for (int64_t r = 0; r < n; ++r) same += top_k(a, r, 1)[0].first == top_k(b, r, 1)[0].first;
  return static_cast<double>(same) / static_cast<double>(n);
}

}  // namespace bnfold
