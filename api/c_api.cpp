// The C API: every entry point catches everything and turns it into a status
// and a thread-local message.
#include "api/bnfold.h"

#include <memory>
#include <string>
#include <vector>

#include "bnfold/version.hpp"
#include "graph/error.hpp"
#include "graph/onnx_io.hpp"
#include "passes/fold.hpp"
#include "runtime/session.hpp"

struct bnfold_model {
  std::unique_ptr<bnfold::Graph> graph;
};
struct bnfold_session {
  std::unique_ptr<bnfold::Session> session;
};
struct bnfold_outputs {
  std::vector<std::string> names;
  std::vector<bnfold::Tensor> tensors;
};

namespace {

thread_local std::string last_error;

template <typename F>
bnfold_status guarded(F&& f) {
  try {
    f();
    return BNFOLD_OK;
  } catch (const bnfold::Error& e) {
    last_error = e.what();
    switch (e.code()) {
      case bnfold::ErrorCode::InvalidModel: return BNFOLD_INVALID_MODEL;
      case bnfold::ErrorCode::Unsupported: return BNFOLD_UNSUPPORTED;
      case bnfold::ErrorCode::InvalidArgument:
      case bnfold::ErrorCode::NeedsInputValue: return BNFOLD_INVALID_ARGUMENT;
      case bnfold::ErrorCode::Io: return BNFOLD_IO_ERROR;
      case bnfold::ErrorCode::Internal: return BNFOLD_INTERNAL_ERROR;
      case bnfold::ErrorCode::ResourceLimit: return BNFOLD_RESOURCE_LIMIT;
    }
    return BNFOLD_INTERNAL_ERROR;
  } catch (const std::exception& e) {
    last_error = e.what();
    return BNFOLD_INTERNAL_ERROR;
  } catch (...) {
    last_error = "unknown error";
    return BNFOLD_INTERNAL_ERROR;
  }
}

bnfold_status null_argument(const char* what) {
  last_error = std::string(what) + " is NULL";
  return BNFOLD_INVALID_ARGUMENT;
}

}  // namespace

extern "C" {

const char* bnfold_version(void) { return BNFOLD_VERSION_STRING; }
const char* bnfold_last_error(void) { return last_error.c_str(); }

bnfold_status bnfold_model_load(const char* path, bnfold_model** out) {
  if (!path || !out) return null_argument(!path ? "path" : "out");
  *out = nullptr;
  return guarded([&] { *out = new bnfold_model{bnfold::load_onnx(path)}; });
}

bnfold_status bnfold_model_load_bytes(const void* data, size_t size, bnfold_model** out) {
  if (!data || !out) return null_argument(!data ? "data" : "out");
  *out = nullptr;
  return guarded([&] { *out = new bnfold_model{bnfold::load_onnx_bytes(data, size, "model bytes")}; });
}

bnfold_status bnfold_model_fold(bnfold_model* model, int* folded, int* total) {
  if (!model) return null_argument("model");
  return guarded([&] {
    const bnfold::FoldReport r = bnfold::fold_batchnorms(*model->graph);
    if (folded) *folded = static_cast<int>(r.folded());
    if (total) *total = static_cast<int>(r.rows().size());
  });
}

bnfold_status bnfold_model_save(const bnfold_model* model, const char* path) {
  if (!model || !path) return null_argument(!model ? "model" : "path");
  return guarded([&] { bnfold::save_onnx(*model->graph, path); });
}

void bnfold_model_free(bnfold_model* model) { delete model; }

bnfold_status bnfold_session_create(const bnfold_model* model, int threads, bnfold_session** out) {
  if (!model || !out) return null_argument(!model ? "model" : "out");
  *out = nullptr;
  return guarded([&] {
    bnfold::SessionOptions o;
    o.threads = threads;
    std::shared_ptr<const bnfold::Graph> copy(bnfold::clone_graph(*model->graph));
    *out = new bnfold_session{std::make_unique<bnfold::Session>(copy, o)};
  });
}

size_t bnfold_session_input_count(const bnfold_session* s) { return s ? s->session->inputs().size() : 0; }

const char* bnfold_session_input_name(const bnfold_session* s, size_t i) {
  if (!s || i >= s->session->inputs().size()) return nullptr;
  return s->session->inputs()[i].name.c_str();
}

bnfold_status bnfold_session_run(bnfold_session* s, const bnfold_input* inputs, size_t count,
                                 bnfold_outputs** out) {
  if (!s || !out || (count && !inputs)) return null_argument(!s ? "session" : !out ? "out" : "inputs");
  *out = nullptr;
  return guarded([&] {
    std::map<std::string, bnfold::Tensor> in;
    for (size_t i = 0; i < count; ++i) {
      if (!inputs[i].name || !inputs[i].data || (inputs[i].rank && !inputs[i].dims))
        throw bnfold::Error(bnfold::ErrorCode::InvalidArgument,
                            "input " + std::to_string(i) + " has a NULL name, data or dims");
      std::vector<int64_t> dims(inputs[i].dims, inputs[i].dims + inputs[i].rank);
      in[inputs[i].name] =
          bnfold::Tensor::borrow(bnfold::DType::Float32, dims, const_cast<float*>(inputs[i].data));
    }
    auto result = s->session->run(in);
    auto o = std::make_unique<bnfold_outputs>();
    for (const auto& spec : s->session->outputs()) {
      o->names.push_back(spec.name);
      o->tensors.push_back(std::move(result.at(spec.name)));
    }
    *out = o.release();
  });
}

void bnfold_session_free(bnfold_session* s) { delete s; }

size_t bnfold_outputs_count(const bnfold_outputs* o) { return o ? o->names.size() : 0; }
const char* bnfold_outputs_name(const bnfold_outputs* o, size_t i) {
  return o && i < o->names.size() ? o->names[i].c_str() : nullptr;
}
size_t bnfold_outputs_rank(const bnfold_outputs* o, size_t i) {
  return o && i < o->tensors.size() ? o->tensors[i].rank() : 0;
}
const int64_t* bnfold_outputs_dims(const bnfold_outputs* o, size_t i) {
  return o && i < o->tensors.size() ? o->tensors[i].dims().data() : nullptr;
}
const float* bnfold_outputs_data(const bnfold_outputs* o, size_t i) {
  if (!o || i >= o->tensors.size() || o->tensors[i].dtype() != bnfold::DType::Float32) return nullptr;
  return o->tensors[i].data_as<float>();
}
void bnfold_outputs_free(bnfold_outputs* o) { delete o; }

}  // extern "C"
