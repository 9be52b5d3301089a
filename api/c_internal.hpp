// Internal to the C API: the handles' contents and the guard every entry
// point runs its body in (exceptions become a status and a thread-local
// message).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bnfold/bnfold.h"
#include "bnfold/analysis/bn_moments.hpp"
#include "bnfold/graph/error.hpp"
#include "bnfold/graph/graph.hpp"
#include "bnfold/runtime/session.hpp"

namespace bnfold::c_api {

// The storage behind a bnfold_tensor_info.
struct TensorInfo {
  std::string name, dtype;
  bool rank_known = false;
  std::vector<int64_t> dims;
  std::vector<std::string> params;
  std::vector<const char*> param_ptrs;
  void fill(bnfold_tensor_info* out) const;
};
TensorInfo describe(const std::string& name, DType dtype, const Shape& shape);

extern thread_local std::string last_error;

bnfold_status status_of(const std::exception_ptr& e);

template <typename F>
bnfold_status guarded(F&& f) {
  try {
    f();
    return BNFOLD_OK;
  } catch (...) {
    return status_of(std::current_exception());
  }
}

bnfold_status null_argument(const char* what);
// The C inputs as borrowed tensors (read in place).
std::map<std::string, Tensor> borrow_inputs(const bnfold_input* inputs, size_t count);
// A copy of the text for the caller, freed with bnfold_string_free.
char* give_string(const std::string& text);

}  // namespace bnfold::c_api

struct bnfold_model {
  std::unique_ptr<bnfold::Graph> graph;
  std::vector<bnfold::c_api::TensorInfo> inputs, outputs;  // described once, at load
};
struct bnfold_session {
  std::unique_ptr<bnfold::Session> session;
  std::vector<bnfold::c_api::TensorInfo> inputs, outputs;
};
struct bnfold_stats {
  bnfold::BnInputStats stats;
};
struct bnfold_stats_collector {
  std::unique_ptr<bnfold::BnStatsCollector> collector;
};
