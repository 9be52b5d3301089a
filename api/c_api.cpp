// The C API: every entry point catches everything and turns it into a status
// and a thread-local message.
#include "bnfold/bnfold.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "api/c_internal.hpp"

#include "bnfold/version.hpp"
#include "bnfold/graph/error.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/runtime/session.hpp"

struct bnfold_outputs {
  std::vector<std::string> names;
  std::vector<bnfold::Tensor> tensors;
};

namespace bnfold::c_api {

thread_local std::string last_error;

bnfold_status status_of(const std::exception_ptr& p) {
  try {
    std::rethrow_exception(p);
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
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return BNFOLD_RESOURCE_LIMIT;
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

std::map<std::string, Tensor> borrow_inputs(const bnfold_input* inputs, size_t count) {
  std::map<std::string, Tensor> in;
  for (size_t i = 0; i < count; ++i) {
    if (!inputs[i].name || !inputs[i].data || (inputs[i].rank && !inputs[i].dims))
      throw Error(ErrorCode::InvalidArgument, "input " + std::to_string(i) + " has a NULL name, data or dims");
    std::vector<int64_t> dims(inputs[i].dims, inputs[i].dims + inputs[i].rank);
    // Two arrays for one input: which one the caller meant is unknowable.
    if (!in.emplace(inputs[i].name, Tensor::borrow(DType::Float32, dims, const_cast<float*>(inputs[i].data))).second)
      throw Error(ErrorCode::InvalidArgument,
                  "input '" + std::string(inputs[i].name) + "' is given twice (inputs " + std::to_string(i) +
                      " and an earlier one)");
  }
  return in;
}

char* give_string(const std::string& text) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

TensorInfo describe(const std::string& name, DType dtype, const Shape& shape) {
  TensorInfo t;
  t.name = name;
  t.dtype = dtype_name(dtype);
  t.rank_known = shape.rank_known;
  if (shape.rank_known)
    for (const Dim& d : shape.dims) {
      t.dims.push_back(d.known() ? d.value : -1);
      t.params.push_back(d.is_symbolic() ? d.symbol : "");
    }
  for (const auto& p : t.params) t.param_ptrs.push_back(p.c_str());
  return t;
}

void TensorInfo::fill(bnfold_tensor_info* out) const {
  out->name = name.c_str();
  out->dtype = dtype.c_str();
  out->rank_known = rank_known ? 1 : 0;
  out->rank = dims.size();
  out->dims = dims.empty() ? nullptr : dims.data();
  out->dim_params = param_ptrs.empty() ? nullptr : param_ptrs.data();
}

}  // namespace bnfold::c_api

using namespace bnfold::c_api;

namespace {

bnfold_model* new_model(std::unique_ptr<bnfold::Graph> g) {
  auto m = std::make_unique<bnfold_model>();
  for (const bnfold::Value* v : g->required_inputs()) m->inputs.push_back(describe(v->name(), v->dtype(), v->shape()));
  for (const bnfold::Value* v : g->outputs()) m->outputs.push_back(describe(v->name(), v->dtype(), v->shape()));
  m->graph = std::move(g);
  return m.release();
}

bnfold_session* new_session(const bnfold_model& model, const bnfold::SessionOptions& o) {
  std::shared_ptr<const bnfold::Graph> copy(bnfold::clone_graph(*model.graph));
  auto s = std::make_unique<bnfold_session>();
  s->session = std::make_unique<bnfold::Session>(copy, o);
  for (const auto& t : s->session->inputs()) s->inputs.push_back(describe(t.name, t.dtype, t.shape));
  for (const auto& t : s->session->outputs()) s->outputs.push_back(describe(t.name, t.dtype, t.shape));
  return s.release();
}

bnfold_status info(const std::vector<TensorInfo>* list, size_t i, bnfold_tensor_info* out, const char* what) {
  if (!list || !out) return null_argument(!list ? what : "out");
  if (i >= list->size()) {
    last_error = std::string(what) + " has " + std::to_string(list->size()) + " of these; index " +
                 std::to_string(i) + " is out of range";
    return BNFOLD_INVALID_ARGUMENT;
  }
  (*list)[i].fill(out);
  return BNFOLD_OK;
}

}  // namespace

extern "C" {

const char* bnfold_version(void) { return BNFOLD_VERSION_STRING; }
const char* bnfold_last_error(void) { return last_error.c_str(); }

bnfold_status bnfold_model_load(const char* path, bnfold_model** out) {
  if (!path || !out) return null_argument(!path ? "path" : "out");
  *out = nullptr;
  return guarded([&] { *out = new_model(bnfold::load_onnx(path)); });
}

bnfold_status bnfold_model_load_bytes(const void* data, size_t size, bnfold_model** out) {
  if (!data || !out) return null_argument(!data ? "data" : "out");
  *out = nullptr;
  return guarded([&] { *out = new_model(bnfold::load_onnx_bytes(data, size, "model bytes")); });
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
    *out = new_session(*model, o);
  });
}

int bnfold_bfloat16_supported(void) {
  try {
    return bnfold::bfloat16_support() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

void bnfold_session_options_init(bnfold_session_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->bn_mode = BNFOLD_BN_INFERENCE;
}

bnfold_status bnfold_session_create_with_options(const bnfold_model* model, const bnfold_session_options* options,
                                                 bnfold_session** out) {
  if (!model || !out) return null_argument(!model ? "model" : "out");
  *out = nullptr;
  bnfold_session_options o;
  bnfold_session_options_init(&o);
  if (options) {
    // The fields the caller's struct has; later ones keep their defaults.
    if (options->struct_size < offsetof(bnfold_session_options, threads) + sizeof(int)) {
      last_error = "bnfold_session_options.struct_size is " + std::to_string(options->struct_size) +
                   ": set it to sizeof(bnfold_session_options) (bnfold_session_options_init does)";
      return BNFOLD_INVALID_ARGUMENT;
    }
    std::memcpy(&o, options, std::min(options->struct_size, sizeof o));
  }
  return guarded([&] {
    bnfold::SessionOptions so;
    so.threads = o.threads;
    if (o.bn_mode != BNFOLD_BN_INFERENCE && o.bn_mode != BNFOLD_BN_BATCH_STATISTICS)
      throw bnfold::Error(bnfold::ErrorCode::InvalidArgument,
                          "bn_mode " + std::to_string(static_cast<int>(o.bn_mode)) +
                              " is neither BNFOLD_BN_INFERENCE nor BNFOLD_BN_BATCH_STATISTICS");
    so.bn_mode = o.bn_mode == BNFOLD_BN_BATCH_STATISTICS ? bnfold::BnMode::BatchStatistics : bnfold::BnMode::Inference;
    so.monitor_every = o.monitor_every;
    so.use_onednn = !o.reference_kernels;
    so.winograd = !o.direct_convolution;
    if (o.precision != BNFOLD_PRECISION_FP32 && o.precision != BNFOLD_PRECISION_BF16)
      throw bnfold::Error(bnfold::ErrorCode::InvalidArgument,
                          "precision " + std::to_string(o.precision) +
                              " is neither BNFOLD_PRECISION_FP32 nor BNFOLD_PRECISION_BF16");
    so.precision = o.precision == BNFOLD_PRECISION_BF16 ? bnfold::Precision::BFloat16 : bnfold::Precision::Float32;
    *out = new_session(*model, so);
  });
}

size_t bnfold_model_input_count(const bnfold_model* m) { return m ? m->inputs.size() : 0; }
size_t bnfold_model_output_count(const bnfold_model* m) { return m ? m->outputs.size() : 0; }
bnfold_status bnfold_model_input_info(const bnfold_model* m, size_t i, bnfold_tensor_info* out) {
  return info(m ? &m->inputs : nullptr, i, out, "model");
}
bnfold_status bnfold_model_output_info(const bnfold_model* m, size_t i, bnfold_tensor_info* out) {
  return info(m ? &m->outputs : nullptr, i, out, "model");
}
size_t bnfold_session_output_count(const bnfold_session* s) { return s ? s->outputs.size() : 0; }
bnfold_status bnfold_session_input_info(const bnfold_session* s, size_t i, bnfold_tensor_info* out) {
  return info(s ? &s->inputs : nullptr, i, out, "session");
}
bnfold_status bnfold_session_output_info(const bnfold_session* s, size_t i, bnfold_tensor_info* out) {
  return info(s ? &s->outputs : nullptr, i, out, "session");
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
    auto result = s->session->run(borrow_inputs(inputs, count));
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
