// Internal: the KServe v2 / Open Inference Protocol's REST bodies. An
// inference request is JSON, or JSON followed by binary tensor data (the
// binary tensor data extension: the Inference-Header-Content-Length header
// gives the JSON's length; each input with parameters.binary_data_size takes
// that many bytes of what follows, little-endian, row-major, in input order).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/serve/model_service.hpp"

namespace bnfold::serve {

// "FP32", "INT64", "BOOL", ...: the protocol's datatype names.
std::string datatype_name(DType dtype);

struct ParsedInfer {
  std::string id;                    // echoed in the response
  InferRequest request;              // not yet validated against the model
  std::vector<std::string> outputs;  // asked for, in order; empty: every output
  std::map<std::string, bool> binary_outputs;  // per asked output: return it as binary data
  bool binary_by_default = false;    // parameters.binary_data_output
};
struct Limits {
  int64_t max_elements = 0;  // values over all the request's tensors
};
// `json_length`: the Inference-Header-Content-Length (the whole body: -1).
// Throws HttpError 400 (malformed) or 413 (over the limits).
ParsedInfer parse_infer(const std::string& body, int64_t json_length, const Limits& limits);

struct InferReply {
  std::string body, content_type;
  int64_t json_length = -1;  // >= 0: send as Inference-Header-Content-Length (binary outputs follow the JSON)
};
// Throws HttpError 400 when an asked output does not exist.
InferReply render_infer(const std::string& model, const ParsedInfer& asked, const InferOutputs& outputs,
                        const std::vector<TensorSpec>& model_outputs);

// The v2 error body: {"error": "..."}.
std::string error_body(const std::string& message);
// GET /v2/models/{name}: name, versions, platform, inputs and outputs with
// their datatype and shape (-1 for a free dim).
std::string model_metadata(const std::string& name, const Session& session, bool batchable, int64_t max_batch);

}  // namespace bnfold::serve
