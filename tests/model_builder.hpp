// Test helper: small graphs built in code with random inputs and weights,
// and the comparison every before/after test makes.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"
#include "bnfold/runtime/session.hpp"

namespace bnfold::test {

// Uniform in [lo, hi), deterministic per seed; float16 rounds from float32.
Tensor random_tensor(const std::vector<int64_t>& dims, uint32_t seed, float lo = -1, float hi = 1,
                     DType dtype = DType::Float32);
// A float32 tensor whose element i is f(i).
Tensor filled(const std::vector<int64_t>& dims, const std::function<float(int64_t)>& f);

struct TestModel {
  std::shared_ptr<Graph> g = std::make_shared<Graph>();
  std::map<std::string, Tensor> inputs;  // a random value for every input
  uint32_t seed = 1;
  DType dtype = DType::Float32;

  explicit TestModel(int64_t opset = 13);
  Value* input(const std::string& name, const std::vector<int64_t>& dims);
  Value* weight(const std::string& name, const std::vector<int64_t>& dims, float lo = -1, float hi = 1);
  Value* positive(const std::string& name, const std::vector<int64_t>& dims);  // in [0.5, 1.5)
  // A node named "<out>_node" with output `out` (a fresh name when empty).
  Value* node(const std::string& op, const std::vector<Value*>& in, const std::string& out = "",
              const std::vector<std::pair<std::string, Attribute>>& attrs = {},
              const std::vector<int64_t>& out_dims = {});
  Value* node(const std::string& op, const std::vector<Value*>& in,
              const std::vector<std::pair<std::string, Attribute>>& attrs) {
    return node(op, in, "", attrs);
  }
  // BN with random parameters (var in [0.5, 2]).
  Value* bn(Value* x, int64_t c, const std::string& out, const std::vector<int64_t>& out_dims = {});
  void output(Value* v) { g->add_output(v); }
};

// Runs both graphs on the same inputs and checks every output of `want`
// agrees (CHECKs inside, with the error in the message).
void check_same_outputs(const std::map<std::string, Tensor>& got, const std::map<std::string, Tensor>& want,
                        double rtol, double atol);

size_t count_ops(const Graph& g, const std::string& op);
Attribute ints(std::vector<int64_t> v);

}  // namespace bnfold::test
