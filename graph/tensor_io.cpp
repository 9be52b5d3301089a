#include "bnfold/graph/tensor_io.hpp"

#include "bnfold/graph/atomic_file.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graph/check.hpp"
#include "bnfold/graph/numbers.hpp"
#include "graph/onnx_convert.hpp"

namespace bnfold {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BNFOLD_CHECK(in.good(), ErrorCode::Io, "{}: cannot open for reading", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}


struct NpyType {
  const char* descr;
  DType dtype;
};
const NpyType kNpyTypes[] = {
    {"<f4", DType::Float32}, {"<f8", DType::Float64}, {"<f2", DType::Float16}, {"|i1", DType::Int8},
    {"|u1", DType::UInt8},   {"<i2", DType::Int16},   {"<u2", DType::UInt16},  {"<i4", DType::Int32},
    {"<u4", DType::UInt32},  {"<i8", DType::Int64},   {"<u8", DType::UInt64},  {"|b1", DType::Bool},
};

// The value of 'key' in the .npy header dict (a Python literal).
std::string header_field(const std::string& header, const std::string& key, const std::string& what) {
  const auto k = header.find("'" + key + "'");
  BNFOLD_CHECK(k != std::string::npos, ErrorCode::InvalidArgument, "{}: .npy header has no '{}'", what, key);
  size_t v = header.find(':', k);
  BNFOLD_CHECK(v != std::string::npos, ErrorCode::InvalidArgument, "{}: malformed .npy header at '{}'", what, key);
  ++v;
  while (v < header.size() && header[v] == ' ') ++v;
  BNFOLD_CHECK(v < header.size(), ErrorCode::InvalidArgument, "{}: malformed .npy header at '{}'", what, key);
  size_t end = std::string::npos;
  if (header[v] == '(') {
    end = header.find(')', v);
    if (end != std::string::npos) return header.substr(v, end - v + 1);
  } else if (header[v] == '\'') {
    end = header.find('\'', v + 1);
    if (end != std::string::npos) return header.substr(v + 1, end - v - 1);
  } else {
    end = header.find_first_of(",}", v);
    if (end != std::string::npos) return header.substr(v, end - v);
  }
  failf(ErrorCode::InvalidArgument, "{}: malformed .npy header at '{}'", what, key);
}

// "(2, 3)", "(4,)", "()": the dims, each a non-negative integer.
std::vector<int64_t> npy_shape(const std::string& shape, const std::string& what) {
  std::vector<int64_t> dims;
  for (size_t i = 1; i + 1 < shape.size();) {
    while (i < shape.size() && (shape[i] == ' ' || shape[i] == ',')) ++i;
    if (i >= shape.size() || shape[i] == ')') break;
    size_t used = 0;
    const auto d = parse_int64(std::string_view(shape).substr(i), &used);
    BNFOLD_CHECK(d && *d >= 0, ErrorCode::InvalidArgument,
                 "{}: malformed .npy shape {}: expected non-negative integers", what, shape);
    dims.push_back(*d);
    i += used;
  }
  return dims;
}

}  // namespace

NpyHeader parse_npy_header(const std::string& bytes, const std::string& what) {
  BNFOLD_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, ErrorCode::InvalidArgument,
               "{}: not a .npy file", what);
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    start = 10;
  } else {
    BNFOLD_CHECK(major == 2 || major == 3, ErrorCode::Unsupported, "{}: .npy version {} is not supported", what,
                 major);
    BNFOLD_CHECK(bytes.size() >= 12, ErrorCode::InvalidArgument, "{}: truncated .npy header", what);
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    start = 12;
  }
  BNFOLD_CHECK(header_len <= bytes.size() - start, ErrorCode::InvalidArgument, "{}: truncated .npy header", what);
  const std::string header = bytes.substr(start, header_len);
  std::string descr = header_field(header, "descr", what);
  if (descr == "<b1") descr = "|b1";
  if (descr == "<i1") descr = "|i1";
  if (descr == "<u1") descr = "|u1";
  NpyHeader h;
  for (const auto& t : kNpyTypes)
    if (descr == t.descr) h.dtype = t.dtype;
  BNFOLD_CHECK(h.dtype != DType::Undefined, ErrorCode::Unsupported,
               "{}: .npy dtype '{}' is not supported (little-endian numeric or bool only)", what, descr);
  BNFOLD_CHECK(header_field(header, "fortran_order", what) == "False", ErrorCode::Unsupported,
               "{}: Fortran-order arrays are not supported; save with np.ascontiguousarray", what);
  h.dims = npy_shape(header_field(header, "shape", what), what);
  h.data_at = start + header_len;
  h.nbytes = Tensor::borrow(h.dtype, h.dims, nullptr).nbytes();
  return h;
}

size_t npy_header_size(const std::string& prefix) {
  if (prefix.size() < 10 || prefix.compare(0, 6, "\x93NUMPY") != 0) return 10;
  if (static_cast<unsigned char>(prefix[6]) == 1)
    return 10 + (static_cast<unsigned char>(prefix[8]) | static_cast<size_t>(static_cast<unsigned char>(prefix[9])) << 8);
  if (prefix.size() < 12) return 12;
  size_t len = 0;
  for (int i = 0; i < 4; ++i) len |= static_cast<size_t>(static_cast<unsigned char>(prefix[8 + i])) << (8 * i);
  return 12 + len;
}

Tensor parse_npy(const std::string& bytes, const std::string& what) {
  const NpyHeader h = parse_npy_header(bytes, what);
  const Tensor probe = Tensor::borrow(h.dtype, h.dims, nullptr);
  BNFOLD_CHECK(bytes.size() - h.data_at == probe.nbytes(), ErrorCode::InvalidArgument,
               "{}: holds {} data bytes but {} needs {}", what, bytes.size() - h.data_at, probe.describe(),
               probe.nbytes());
  Tensor t(h.dtype, h.dims);
  if (t.nbytes()) std::memcpy(t.mutable_data(), bytes.data() + h.data_at, t.nbytes());
  return t;
}

Tensor load_npy(const std::string& path) { return parse_npy(read_file(path), path); }

void save_npy(const Tensor& t, const std::string& path) {
  const char* descr = nullptr;
  for (const auto& k : kNpyTypes)
    if (k.dtype == t.dtype()) descr = k.descr;
  BNFOLD_CHECK(descr != nullptr, ErrorCode::Unsupported, "cannot save {} as .npy", dtype_name(t.dtype()));
  std::string shape = "(";
  for (int64_t d : t.dims()) shape += std::to_string(d) + ", ";
  if (t.rank() > 1) shape.resize(shape.size() - 2);
  else if (t.rank() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(static_cast<const char*>(t.data()), t.nbytes());
  write_file_atomic(path, bytes);
}

Tensor parse_tensor_pb(const std::string& bytes, const std::string& what, const std::string& dir, std::string* name) {
  onnx::TensorProto proto;
  BNFOLD_CHECK(proto.ParseFromString(bytes), ErrorCode::InvalidArgument, "{}: not a TensorProto", what);
  if (name) *name = proto.name();
  return tensor_from_proto(proto, dir, what);
}

Tensor load_tensor_pb(const std::string& path, std::string* name) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return parse_tensor_pb(read_file(path), path, dir.empty() ? "." : dir, name);
}

void save_tensor_pb(const Tensor& t, const std::string& name, const std::string& path) {
  onnx::TensorProto proto;
  tensor_to_proto(t, name, &proto);
  write_file_atomic(path, proto.SerializeAsString());
}

Tensor load_tensor_file(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".npy") return load_npy(path);
  if (ext == ".pb") return load_tensor_pb(path);
  failf(ErrorCode::InvalidArgument, "{}: unknown tensor file type (use .npy or .pb)", path);
}

}  // namespace bnfold
