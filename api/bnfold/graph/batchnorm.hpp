// What a BatchNormalization node means, across its opset versions: the one
// place that knows that opset < 7 says `is_test`, 7-13 signal training by the
// extra outputs, and 14+ says `training_mode`.
#pragma once

#include "bnfold/graph/export.hpp"

#include <optional>
#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"

namespace bnfold BNFOLD_API {

struct BatchNormAttrs {
  double epsilon = 1e-5;
  double momentum = 0.9;
  bool training = false;       // normalizes with batch statistics
  std::string training_why;    // "training_mode=1", "is_test=0", ... (empty when not training)
  bool spatial = true;         // opset < 9 `spatial`=0 means per-activation statistics
  bool optional_outputs_used;  // running/saved mean/var outputs consumed or exported
};

BatchNormAttrs batchnorm_attrs(const Node& bn);

// One BatchNormalization node as every layer reads it: the one place that
// says what "a BN", "an inference BN" and "its running statistics" are.
// Made only for an ai.onnx BatchNormalization with an output.
class BatchNorm {
 public:
  // The view of `n`, or none when n is not an ai.onnx BatchNormalization with an output.
  static std::optional<BatchNorm> of(Node& n);
  static std::optional<BatchNorm> of(const Node& n) { return of(const_cast<Node&>(n)); }
  static bool is(const Node& n);

  Node& node() const { return *node_; }
  std::string name() const;  // node_name(): its name, or its output's when unnamed
  const BatchNormAttrs& attrs() const { return attrs_; }
  double epsilon() const { return attrs_.epsilon; }
  // Normalizes with its running statistics (not training, spatial).
  bool inference() const { return !attrs_.training && attrs_.spatial; }
  // Input k (1 scale, 2 bias, 3 mean, 4 var) is present and constant.
  bool constant(size_t k) const;
  bool constant_statistics() const { return constant(3) && constant(4); }
  // Inference mode with all four parameters constant: what folds, what
  // recalibration rewrites, what drift and the audit compare against.
  bool inference_with_constants() const;
  // Only when constant_statistics(): the running mean and variance (without eps).
  const Tensor& running_mean() const;
  const Tensor& running_var() const;

 private:
  BatchNorm(Node& n, BatchNormAttrs a) : node_(&n), attrs_(std::move(a)) {}
  Node* node_;
  BatchNormAttrs attrs_;
};
// The BNs of `graph`, producers first; the second list only those
// inference_with_constants().
std::vector<BatchNorm> batchnorms(const Graph& graph);
std::vector<BatchNorm> inference_batchnorms(const Graph& graph);

// The running statistics of a BN, as drift and the audit compare data with
// them: a BN node's constant ones, or those of a BN `fold` removed (kept in
// the model's metadata, graph/folded_bns.hpp).
struct RunningStatistics {
  std::string bn;                 // node_name()
  double epsilon = 0;
  std::vector<double> mean, var;  // per channel; var without eps
  bool training = false;          // the node normalizes with batch statistics
  bool folded = false;            // no node left: fold's record
};
// Every BN node with constant running statistics (producers first), then
// every folded one. `not_constant` receives the names of BN nodes whose
// statistics are not constant (skipped).
std::vector<RunningStatistics> running_statistics(const Graph& graph, std::vector<std::string>* not_constant = nullptr);

}  // namespace bnfold
