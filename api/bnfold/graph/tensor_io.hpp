// Reading and writing single tensors: NumPy .npy files and ONNX TensorProto
// .pb files (the format of ONNX's test data).
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "bnfold/graph/tensor.hpp"

namespace bnfold BNFOLD_API {

// .npy versions 1-3, little-endian, C order, numeric and bool dtypes.
Tensor load_npy(const std::string& path);
// The same from the file's bytes (an .npz member); `what` names it in errors.
Tensor parse_npy(const std::string& bytes, const std::string& what);
void save_npy(const Tensor& t, const std::string& path);
// A .npy header alone: what a reader needs to fetch part of the data later.
struct NpyHeader {
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;
  size_t data_at = 0;  // offset of the data from the start of the .npy bytes
  size_t nbytes = 0;   // of the data
};
// From the first bytes of a .npy (at least npy_header_size(bytes) of them).
NpyHeader parse_npy_header(const std::string& bytes, const std::string& what);
// How many bytes the header takes, from its first 12 (10 when they are too few to say).
size_t npy_header_size(const std::string& prefix);

// The arrays of an .npz file's bytes (a zip of .npy files, stored or
// deflated), in order; `what` names it in errors.
std::vector<Tensor> parse_npz(const std::string& bytes, const std::string& what);
// The same with each array's name (the member name without ".npy").
std::vector<std::pair<std::string, Tensor>> parse_npz_named(const std::string& bytes, const std::string& what);

// A serialized onnx.TensorProto; `name` receives its name when not null.
Tensor load_tensor_pb(const std::string& path, std::string* name = nullptr);
// The same from bytes; external data is read relative to `dir` (empty:
// refused). `what` names it in errors.
Tensor parse_tensor_pb(const std::string& bytes, const std::string& what, const std::string& dir = "",
                       std::string* name = nullptr);
void save_tensor_pb(const Tensor& t, const std::string& name, const std::string& path);

// Either of the two, by extension (.npy or .pb).
Tensor load_tensor_file(const std::string& path);

}  // namespace bnfold
