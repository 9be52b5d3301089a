// Running a model. A Session compiles its graph into a plan once per
// input-shape signature (a new batch size makes a new plan, cached) and then
// only executes. run() may be called from several threads at once: each call
// gets its own activation memory.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.hpp"
#include "graph/tensor.hpp"

namespace bnfold {

struct SessionOptions {
  // Worker threads for the kernels; 0 means one per core.
  int threads = 0;
  // Use oneDNN kernels where they apply (false: the plain reference kernels,
  // the oracle the tests compare against).
  bool use_onednn = true;
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;  // may hold symbolic dims such as a batch "N"
};

class Session {
 public:
  explicit Session(const std::string& model_path, SessionOptions options = {});
  explicit Session(std::shared_ptr<const Graph> graph, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Inputs the caller must feed, in the model's order; then the outputs.
  const std::vector<TensorSpec>& inputs() const;
  const std::vector<TensorSpec>& outputs() const;
  const Graph& graph() const;

  // Runs the model. Inputs are plain row-major tensors (owned or borrowed;
  // borrowed ones are read in place). Returns every graph output by name.
  // Throws bnfold::Error for an unknown or missing input, or a wrong dtype,
  // rank or dim (naming expected and given).
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) const;

  // Bytes of activation memory one run needs at these input dims (compiles
  // the plan if needed).
  size_t peak_activation_bytes(const std::map<std::string, std::vector<int64_t>>& input_dims) const;
  // How many distinct input-shape signatures have been compiled.
  size_t compiled_plans() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bnfold
