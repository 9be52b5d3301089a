// Accuracy and agreement of a classifier's scores: what audit and the guard of
// recalibrate report. The class scores are the model's first float output of
// rank 2 with more than one column ([N, classes]).
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "bnfold/graph/tensor.hpp"

namespace bnfold BNFOLD_API {

// Index of the class-score output among the outputs (as run: real dims), or
// -1 when no output looks like class scores.
struct OutputSpec {
  std::string name;
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;
};
int class_output(const std::vector<OutputSpec>& outputs);

// Share of the first scores.dims()[0] samples whose label is among the k
// highest scores. Throws when a label is not a class of scores (naming `what`).
double top_k_accuracy(const Tensor& scores, const std::vector<int64_t>& labels, int k, const std::string& what);
// Share of rows with the same highest-scoring class in a and b.
double top1_agreement(const Tensor& a, const Tensor& b);
// Throws unless every label is a class of the [N, classes] output `output`.
void check_labels_fit(const std::vector<int64_t>& labels, int64_t classes, const std::string& output);

}  // namespace bnfold
