// A summary of a model: what `bnfold inspect` prints, computed in the library so
// that embedding applications get the same facts.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"

namespace bnfold BNFOLD_API {

struct TensorInfo {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;
};

// One BatchNormalization node as a folding pass will see it.
struct BatchNormInfo {
  std::string name;
  size_t node_id = 0;
  std::string input;          // BN's input value
  std::string producer_op;    // op that makes the input, "graph input" or "constant"
  std::string producer_name;
  size_t producer_consumers = 0;  // how many node inputs read the producer's output
  bool producer_output_is_graph_output = false;
  std::vector<std::string> consumer_ops;  // ops that read BN's output
  int64_t channels = -1;                  // -1 when the scale is not a constant
  double epsilon = 0;
  bool params_constant = false;
  double var_min = 0, var_max = 0;  // running variance range (constant params only)
  std::vector<int64_t> var_eps_nonpositive;  // channels with var + eps <= 0
  std::vector<int64_t> nonfinite;            // channels with a NaN/Inf parameter
  bool training = false;
  std::string mode;  // "inference" or "training (<why>)"
  bool spatial = true;
};

struct ModelSummary {
  ModelInfo info;
  std::vector<TensorInfo> inputs;  // required inputs only (no initializer behind them)
  std::vector<TensorInfo> outputs;
  std::map<std::string, int64_t> op_counts;
  size_t num_nodes = 0;
  int64_t parameters = 0;   // elements of every initializer
  uint64_t parameter_bytes = 0;
  size_t num_initializers = 0;
  std::vector<BatchNormInfo> batchnorms;  // in topological order
};

ModelSummary summarize(const Graph& graph);

}  // namespace bnfold
