#include "graph/tensor_io.hpp"

#include "graph/atomic_file.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graph/check.hpp"
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
std::string header_field(const std::string& header, const std::string& key, const std::string& path) {
  const auto k = header.find("'" + key + "'");
  BNFOLD_CHECK(k != std::string::npos, ErrorCode::InvalidArgument, "{}: .npy header has no '{}'", path, key);
  auto v = header.find(':', k);
  ++v;
  while (v < header.size() && header[v] == ' ') ++v;
  if (header[v] == '(') return header.substr(v, header.find(')', v) - v + 1);
  if (header[v] == '\'') return header.substr(v + 1, header.find('\'', v + 1) - v - 1);
  return header.substr(v, header.find_first_of(",}", v) - v);
}

}  // namespace

Tensor load_npy(const std::string& path) {
  const std::string bytes = read_file(path);
  BNFOLD_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, ErrorCode::InvalidArgument,
               "{}: not a .npy file", path);
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    start = 10;
  } else {
    BNFOLD_CHECK(bytes.size() >= 12, ErrorCode::InvalidArgument, "{}: truncated .npy header", path);
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    start = 12;
  }
  BNFOLD_CHECK(start + header_len <= bytes.size(), ErrorCode::InvalidArgument, "{}: truncated .npy header", path);
  const std::string header = bytes.substr(start, header_len);
  std::string descr = header_field(header, "descr", path);
  if (descr == "<b1") descr = "|b1";
  if (descr == "<i1") descr = "|i1";
  if (descr == "<u1") descr = "|u1";
  DType dtype = DType::Undefined;
  for (const auto& t : kNpyTypes)
    if (descr == t.descr) dtype = t.dtype;
  BNFOLD_CHECK(dtype != DType::Undefined, ErrorCode::Unsupported,
               "{}: .npy dtype '{}' is not supported (little-endian numeric or bool only)", path, descr);
  BNFOLD_CHECK(header_field(header, "fortran_order", path) == "False", ErrorCode::Unsupported,
               "{}: Fortran-order arrays are not supported; save with np.ascontiguousarray", path);
  std::string shape = header_field(header, "shape", path);
  std::vector<int64_t> dims;
  for (size_t i = 1; i < shape.size();) {
    while (i < shape.size() && (shape[i] == ' ' || shape[i] == ',')) ++i;
    if (i >= shape.size() || shape[i] == ')') break;
    size_t used = 0;
    dims.push_back(std::stoll(shape.substr(i), &used));
    i += used;
  }
  const Tensor probe = Tensor::borrow(dtype, dims, nullptr);
  const size_t data_at = start + header_len;
  BNFOLD_CHECK(bytes.size() - data_at == probe.nbytes(), ErrorCode::InvalidArgument,
               "{}: holds {} data bytes but {} needs {}", path, bytes.size() - data_at, probe.describe(),
               probe.nbytes());
  Tensor t(dtype, dims);
  if (t.nbytes()) std::memcpy(t.mutable_data(), bytes.data() + data_at, t.nbytes());
  return t;
}

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

Tensor load_tensor_pb(const std::string& path, std::string* name) {
  const std::string bytes = read_file(path);
  onnx::TensorProto proto;
  BNFOLD_CHECK(proto.ParseFromString(bytes), ErrorCode::InvalidArgument, "{}: not a TensorProto", path);
  if (name) *name = proto.name();
  std::string dir = std::filesystem::path(path).parent_path().string();
  return tensor_from_proto(proto, dir.empty() ? "." : dir, path);
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
