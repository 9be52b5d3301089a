#include "api/serve/kserve.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <nlohmann/json.hpp>

namespace bnfold::serve {

using nlohmann::json;

namespace {

const std::pair<DType, const char*> kNames[] = {
    {DType::Float32, "FP32"}, {DType::Float64, "FP64"}, {DType::Float16, "FP16"}, {DType::BFloat16, "BF16"},
    {DType::Int8, "INT8"},    {DType::Int16, "INT16"},  {DType::Int32, "INT32"},  {DType::Int64, "INT64"},
    {DType::UInt8, "UINT8"},  {DType::UInt16, "UINT16"}, {DType::UInt32, "UINT32"}, {DType::UInt64, "UINT64"},
    {DType::Bool, "BOOL"},
};

DType dtype_of(const std::string& name, const std::string& input) {
  for (const auto& [d, n] : kNames)
    if (name == n) return d;
  std::string known;
  for (const auto& [d, n] : kNames) known += std::string(known.empty() ? "" : ", ") + n;
  throw HttpError{400, fmt::format("input '{}': datatype '{}' is not one bnfold takes ({})", input, name, known)};
}

// The values of "data", flat or nested (row-major), without copying them.
void flatten(const json& data, std::vector<const json*>& out, int depth = 0) {
  if (depth > 64) throw HttpError{400, "\"data\" is nested more than 64 deep"};
  if (!data.is_array()) {
    out.push_back(&data);
    return;
  }
  for (const json& v : data) flatten(v, out, depth + 1);
}

// One JSON value as a T; a value T cannot hold exactly (1.5 or 300 for an
// INT8, -1 for a UINT) is refused rather than wrapped or truncated.
template <typename T>
T value_as(const json& v, size_t i, const std::string& input) {
  auto refuse = [&](const char* why) {
    return HttpError{400, fmt::format("input '{}': element {} ({}) {}", input, i, v.dump(), why)};
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number()) return v.get<double>() != 0;
  } else if constexpr (std::is_integral_v<T>) {
    if (v.is_boolean()) return static_cast<T>(v.get<bool>());
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (d != std::floor(d) || d < static_cast<double>(std::numeric_limits<T>::lowest()) ||
          d > static_cast<double>(std::numeric_limits<T>::max()))
        throw refuse("is not an integer this datatype holds");
      return static_cast<T>(d);
    }
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) throw refuse("is too large for this datatype");
      return static_cast<T>(u);
    }
    if (v.is_number_integer()) {
      const int64_t n = v.get<int64_t>();
      if (n < static_cast<int64_t>(std::numeric_limits<T>::lowest()) ||
          (n > 0 && static_cast<uint64_t>(n) > static_cast<uint64_t>(std::numeric_limits<T>::max())))
        throw refuse("is out of this datatype's range");
      return static_cast<T>(n);
    }
  } else {
    if (v.is_boolean()) return static_cast<T>(v.get<bool>());
    if (v.is_number()) return static_cast<T>(v.get<double>());
  }
  throw refuse("is not a number");
}

template <typename T>
void store(Tensor& t, const std::vector<const json*>& values, const std::string& input) {
  T* dst = t.mutable_data_as<T>();
  for (size_t i = 0; i < values.size(); ++i) dst[i] = value_as<T>(*values[i], i, input);
}

void store_values(Tensor& t, const std::vector<const json*>& values, const std::string& input) {
  switch (t.dtype()) {
    case DType::Float32: return store<float>(t, values, input);
    case DType::Float64: return store<double>(t, values, input);
    case DType::Int8: return store<int8_t>(t, values, input);
    case DType::Int16: return store<int16_t>(t, values, input);
    case DType::Int32: return store<int32_t>(t, values, input);
    case DType::Int64: return store<int64_t>(t, values, input);
    case DType::UInt8: return store<uint8_t>(t, values, input);
    case DType::UInt16: return store<uint16_t>(t, values, input);
    case DType::UInt32: return store<uint32_t>(t, values, input);
    case DType::UInt64: return store<uint64_t>(t, values, input);
    case DType::Bool: return store<bool>(t, values, input);
    case DType::Float16:
    case DType::BFloat16: {
      Tensor f(DType::Float32, t.dims());
      store<float>(f, values, input);
      auto* dst = t.mutable_data_as<uint16_t>();
      const float* src = f.data_as<float>();
      for (int64_t i = 0; i < t.numel(); ++i)
        dst[i] = t.dtype() == DType::Float16 ? float_to_half(src[i]) : float_to_bfloat16(src[i]);
      return;
    }
    default: throw HttpError{400, fmt::format("input '{}': {} tensors are not taken", input, dtype_name(t.dtype()))};
  }
}

template <typename T>
json values_of(const Tensor& t) {
  const T* p = t.data_as<T>();
  return json(std::vector<T>(p, p + t.numel()));
}

json json_data(const Tensor& t) {
  switch (t.dtype()) {
    case DType::Float32: return values_of<float>(t);
    case DType::Float64: return values_of<double>(t);
    case DType::Int8: return values_of<int8_t>(t);
    case DType::Int16: return values_of<int16_t>(t);
    case DType::Int32: return values_of<int32_t>(t);
    case DType::Int64: return values_of<int64_t>(t);
    case DType::UInt8: return values_of<uint8_t>(t);
    case DType::UInt16: return values_of<uint16_t>(t);
    case DType::UInt32: return values_of<uint32_t>(t);
    case DType::UInt64: return values_of<uint64_t>(t);
    case DType::Bool: return values_of<bool>(t);
    case DType::Float16:
    case DType::BFloat16: {
      std::vector<float> v(static_cast<size_t>(t.numel()));
      const auto* p = t.data_as<uint16_t>();
      for (size_t i = 0; i < v.size(); ++i) v[i] = t.dtype() == DType::Float16 ? half_to_float(p[i]) : bfloat16_to_float(p[i]);
      return json(v);
    }
    default: throw HttpError{500, fmt::format("a {} output cannot be sent as JSON", dtype_name(t.dtype()))};
  }
}

std::vector<int64_t> shape_of(const json& in, const std::string& name, const Limits& limits, int64_t& elements) {
  if (!in.contains("shape") || !in["shape"].is_array())
    throw HttpError{400, fmt::format("input '{}' has no \"shape\" array", name)};
  std::vector<int64_t> dims;
  int64_t n = 1;
  for (const json& d : in["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      throw HttpError{400, fmt::format("input '{}': shape {} holds {} (dims are integers >= 0)", name, in["shape"].dump(), d.dump())};
    dims.push_back(d.get<int64_t>());
    if (dims.back() > 0 && n > limits.max_elements / dims.back())
      throw HttpError{413, fmt::format("input '{}' of shape {} is over the limit of {} values per request", name,
                                       in["shape"].dump(), limits.max_elements)};
    n *= dims.back();
  }
  elements += n;
  if (elements > limits.max_elements)
    throw HttpError{413, fmt::format("the request's tensors hold {} values, over the limit of {}", elements, limits.max_elements)};
  return dims;
}

}  // namespace

std::string datatype_name(DType dtype) {
  for (const auto& [d, n] : kNames)
    if (d == dtype) return n;
  return dtype_name(dtype);
}

namespace {

ParsedInfer parse_unchecked(const std::string& body, int64_t json_length, const Limits& limits) {
  if (json_length > static_cast<int64_t>(body.size()))
    throw HttpError{400, fmt::format("Inference-Header-Content-Length {} is longer than the body ({} bytes)", json_length,
                                     body.size())};
  const size_t head = json_length < 0 ? body.size() : static_cast<size_t>(json_length);
  json doc = json::parse(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(head), nullptr, false);
  if (doc.is_discarded()) throw HttpError{400, "the request body is not valid JSON"};
  if (!doc.is_object() || !doc.contains("inputs") || !doc["inputs"].is_array())
    throw HttpError{400, "an inference request is a JSON object with an \"inputs\" array"};
  ParsedInfer p;
  if (doc.contains("id") && doc["id"].is_string()) p.id = doc["id"].get<std::string>();
  if (doc.contains("parameters") && doc["parameters"].is_object())
    p.binary_by_default = doc["parameters"].value("binary_data_output", false);
  size_t offset = head;
  int64_t elements = 0;
  for (const json& in : doc["inputs"]) {
    if (!in.is_object() || !in.contains("name") || !in["name"].is_string())
      throw HttpError{400, "each input is an object with a \"name\""};
    const std::string name = in["name"].get<std::string>();
    if (p.request.inputs.count(name)) throw HttpError{400, fmt::format("input '{}' is given twice", name)};
    if (!in.contains("datatype") || !in["datatype"].is_string())
      throw HttpError{400, fmt::format("input '{}' has no \"datatype\"", name)};
    Tensor t(dtype_of(in["datatype"].get<std::string>(), name), shape_of(in, name, limits, elements));
    const json* params = in.contains("parameters") && in["parameters"].is_object() ? &in["parameters"] : nullptr;
    if (params && params->contains("binary_data_size")) {
      const json& size = (*params)["binary_data_size"];
      if (!size.is_number_integer() || size.get<int64_t>() != static_cast<int64_t>(t.nbytes()))
        throw HttpError{400, fmt::format("input '{}': binary_data_size {} is not the {} bytes of a {} {} tensor", name,
                                         size.dump(), t.nbytes(), in["datatype"].get<std::string>(), in["shape"].dump())};
      if (body.size() - offset < t.nbytes())
        throw HttpError{400, fmt::format("input '{}': the body ends {} bytes into its {} bytes of binary data", name,
                                         body.size() - offset, t.nbytes())};
      std::memcpy(t.mutable_data(), body.data() + offset, t.nbytes());
      offset += t.nbytes();
    } else {
      if (!in.contains("data")) throw HttpError{400, fmt::format("input '{}' has neither \"data\" nor binary data", name)};
      std::vector<const json*> values;
      flatten(in["data"], values);
      if (static_cast<int64_t>(values.size()) != t.numel())
        throw HttpError{400, fmt::format("input '{}' has {} values; shape {} needs {}", name, values.size(),
                                         in["shape"].dump(), t.numel())};
      store_values(t, values, name);
    }
    p.request.inputs[name] = std::move(t);
  }
  if (offset != body.size())
    throw HttpError{400, fmt::format("{} bytes follow the request's JSON and binary inputs unclaimed", body.size() - offset)};
  if (doc.contains("outputs")) {
    if (!doc["outputs"].is_array()) throw HttpError{400, "\"outputs\" must be an array"};
    for (const json& o : doc["outputs"]) {
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
        throw HttpError{400, "each requested output is an object with a \"name\""};
      const std::string name = o["name"].get<std::string>();
      p.outputs.push_back(name);
      bool binary = p.binary_by_default;
      if (o.contains("parameters") && o["parameters"].is_object())
        binary = o["parameters"].value("binary_data", binary);
      p.binary_outputs[name] = binary;
    }
  }
  return p;
}

}  // namespace

ParsedInfer parse_infer(const std::string& body, int64_t json_length, const Limits& limits) {
  try {
    return parse_unchecked(body, json_length, limits);
  } catch (const json::exception& e) {  // a field of the wrong JSON type ("binary_data": "yes")
    throw HttpError{400, fmt::format("the request does not follow the v2 protocol: {}", e.what())};
  }
}

InferReply render_infer(const std::string& model, const ParsedInfer& asked, const InferOutputs& outputs,
                        const std::vector<TensorSpec>& model_outputs) {
  std::vector<std::string> names = asked.outputs;
  if (names.empty())
    for (const TensorSpec& s : model_outputs) names.push_back(s.name);
  json doc = {{"model_name", model}, {"outputs", json::array()}};
  if (!asked.id.empty()) doc["id"] = asked.id;
  std::string binary;
  for (const std::string& name : names) {
    auto it = outputs.find(name);
    if (it == outputs.end()) {
      std::string known;
      for (const TensorSpec& s : model_outputs) known += (known.empty() ? "" : ", ") + s.name;
      throw HttpError{400, fmt::format("model '{}' has no output '{}' (it has: {})", model, name, known)};
    }
    const Tensor& t = it->second;
    json o = {{"name", name}, {"datatype", datatype_name(t.dtype())}, {"shape", t.dims()}};
    auto b = asked.binary_outputs.find(name);
    if (b != asked.binary_outputs.end() ? b->second : asked.binary_by_default) {
      o["parameters"] = {{"binary_data_size", t.nbytes()}};
      binary.append(static_cast<const char*>(t.data()), t.nbytes());
    } else {
      o["data"] = json_data(t);
    }
    doc["outputs"].push_back(std::move(o));
  }
  InferReply r;
  // NaN and infinities have no JSON form: they are sent as null (binary outputs keep them).
  r.body = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  if (binary.empty()) {
    r.content_type = "application/json";
  } else {
    r.json_length = static_cast<int64_t>(r.body.size());
    r.body += binary;
    r.content_type = "application/octet-stream";
  }
  return r;
}

std::string error_body(const std::string& message) {
  return json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string model_metadata(const std::string& name, const Session& session, bool batchable, int64_t max_batch) {
  auto tensors = [](const std::vector<TensorSpec>& specs) {
    json a = json::array();
    for (const TensorSpec& s : specs) {
      std::vector<int64_t> dims;
      for (const Dim& d : s.shape.dims) dims.push_back(d.known() ? d.value : -1);
      a.push_back({{"name", s.name}, {"datatype", datatype_name(s.dtype)}, {"shape", dims}});
    }
    return a;
  };
  json doc = {{"name", name},
              {"versions", {"1"}},
              {"platform", "onnx"},
              {"inputs", tensors(session.inputs())},
              {"outputs", tensors(session.outputs())},
              {"parameters", {{"dynamic_batching", batchable && max_batch > 1}, {"max_batch", batchable ? max_batch : 1}}}};
  return doc.dump();
}

}  // namespace bnfold::serve
