#include "bnfold/graph/tensor.hpp"

#include <cstdlib>
#include <cstring>
#include <limits>

#include "graph/check.hpp"
#include "bnfold/graph/memory.hpp"
#include "bnfold/graph/shape.hpp"

namespace bnfold {

// The element count; the product of the non-zero dims must fit int64 too,
// so that every row-major stride does even when a 0 dim makes the tensor
// empty ([3, 0, 2^40, 2^40] is refused, not an empty tensor).
int64_t checked_numel(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  bool empty = false;
  for (int64_t d : dims) {
    BNFOLD_CHECK(d >= 0, ErrorCode::InvalidModel, "negative dimension {} in shape", d);
    if (d == 0) {
      empty = true;
      continue;
    }
    if (n > std::numeric_limits<int64_t>::max() / d)
      failf(ErrorCode::InvalidModel, "shape with {} dims overflows the element count", dims.size());
    n *= d;
  }
  return empty ? 0 : n;
}

Tensor::Tensor(DType dtype, std::vector<int64_t> dims) : dtype_(dtype), dims_(std::move(dims)) {
  BNFOLD_CHECK(dtype_size(dtype) > 0, ErrorCode::Unsupported, "cannot hold a tensor of type {}",
               dtype_name(dtype));
  numel_ = checked_numel(dims_);
  const size_t elem = dtype_size(dtype);
  BNFOLD_CHECK(static_cast<uint64_t>(numel_) <= std::numeric_limits<uint64_t>::max() / 16 / elem,
               ErrorCode::InvalidModel, "tensor of {} elements is too large", numel_);
  // 64-byte aligned: suits every SIMD load oneDNN or a reference kernel does.
  owner_ = allocate(static_cast<size_t>(numel_) * elem, true,
                    [&] { return fmt::format("a {} tensor {}", dtype_name(dtype_), Shape::of(dims_).str()); });
  data_ = owner_.get();
}

Tensor Tensor::borrow(DType dtype, std::vector<int64_t> dims, void* data) {
  BNFOLD_CHECK(dtype_size(dtype) > 0, ErrorCode::Unsupported, "cannot hold a tensor of type {}",
               dtype_name(dtype));
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  t.numel_ = checked_numel(t.dims_);
  BNFOLD_CHECK(static_cast<uint64_t>(t.numel_) <= std::numeric_limits<uint64_t>::max() / 16,
               ErrorCode::InvalidModel, "tensor of {} elements is too large", t.numel_);
  t.data_ = data;
  return t;
}

Tensor Tensor::adopt(DType dtype, std::vector<int64_t> dims, std::shared_ptr<void> owner, void* data) {
  Tensor t = borrow(dtype, std::move(dims), data);
  t.owner_ = std::move(owner);
  return t;
}

Tensor Tensor::clone() const {
  if (empty()) return Tensor();
  Tensor t(dtype_, dims_);
  if (nbytes() > 0) std::memcpy(t.data_, data_, nbytes());
  return t;
}

bool Tensor::same_as(const Tensor& other) const {
  return dtype_ == other.dtype_ && dims_ == other.dims_ &&
         (nbytes() == 0 || std::memcmp(data_, other.data_, nbytes()) == 0);
}

void Tensor::check_elem(size_t size) const {
  BNFOLD_CHECK(size == dtype_size(dtype_), ErrorCode::Internal,
               "typed access of {}-byte elements to a {} tensor", size, dtype_name(dtype_));
}

double Tensor::value_at(int64_t i) const {
  BNFOLD_CHECK(i >= 0 && i < numel_, ErrorCode::Internal, "element {} out of range {}", i, numel_);
  const auto* p = static_cast<const unsigned char*>(data_) + static_cast<size_t>(i) * dtype_size(dtype_);
  auto load = [p](auto v) {
    std::memcpy(&v, p, sizeof(v));
    return v;
  };
  switch (dtype_) {
    case DType::Float32: return load(float{});
    case DType::Float64: return load(double{});
    case DType::Float16: return half_to_float(load(uint16_t{}));
    case DType::BFloat16: return bfloat16_to_float(load(uint16_t{}));
    case DType::Int8: return load(int8_t{});
    case DType::UInt8: return load(uint8_t{});
    case DType::Int16: return load(int16_t{});
    case DType::UInt16: return load(uint16_t{});
    case DType::Int32: return load(int32_t{});
    case DType::UInt32: return load(uint32_t{});
    case DType::Int64: return static_cast<double>(load(int64_t{}));
    case DType::UInt64: return static_cast<double>(load(uint64_t{}));
    case DType::Bool: return load(uint8_t{}) != 0 ? 1.0 : 0.0;
    case DType::Complex64: return load(float{});  // real part
    case DType::Complex128: return load(double{});
    case DType::Undefined:
    case DType::String: break;
  }
  failf(ErrorCode::Internal, "value_at on a {} tensor", dtype_name(dtype_));
}

std::string Tensor::describe() const {
  std::string s = dtype_name(dtype_);
  s += '[';
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(dims_[i]);
  }
  s += ']';
  return s;
}

}  // namespace bnfold
