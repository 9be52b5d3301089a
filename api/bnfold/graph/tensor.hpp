// A dense, row-major tensor owned by bnfold (or borrowed from a caller).
// Copies share the buffer; clone() makes an independent copy. Code that changes
// a constant must clone first: another node may hold the same buffer.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bnfold/graph/dtype.hpp"

namespace bnfold BNFOLD_API {

// Number of elements of a shape; throws bnfold::Error for a negative dim or
// an element count that overflows int64.
int64_t checked_numel(const std::vector<int64_t>& dims);

class Tensor {
 public:
  Tensor() = default;
  // Owned, zero-filled storage. Throws for String/Undefined or a bad shape.
  Tensor(DType dtype, std::vector<int64_t> dims);
  // Wraps caller memory without copying; the caller keeps it alive.
  static Tensor borrow(DType dtype, std::vector<int64_t> dims, void* data);
  // Wraps memory that `owner` keeps alive (and frees with the last copy),
  // without copying: a parsed model's weight bytes become the tensor's.
  static Tensor adopt(DType dtype, std::vector<int64_t> dims, std::shared_ptr<void> owner, void* data);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& dims() const { return dims_; }
  size_t rank() const { return dims_.size(); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  bool empty() const { return dtype_ == DType::Undefined; }
  bool owns_data() const { return owner_ != nullptr; }

  const void* data() const { return data_; }
  void* mutable_data() { return data_; }
  // Typed views; throw when T's size does not match the dtype's element size.
  template <typename T>
  const T* data_as() const {
    check_elem(sizeof(T));
    return static_cast<const T*>(data_);
  }
  template <typename T>
  T* mutable_data_as() {
    check_elem(sizeof(T));
    return static_cast<T*>(data_);
  }

  Tensor clone() const;
  // Same dtype, dims and bytes.
  bool same_as(const Tensor& other) const;
  // Element i converted to double (any numeric dtype); for reports and tests.
  double value_at(int64_t i) const;
  // "float32[64,3,7,7]"
  std::string describe() const;

 private:
  void check_elem(size_t size) const;

  DType dtype_ = DType::Undefined;
  std::vector<int64_t> dims_;
  int64_t numel_ = 0;
  std::shared_ptr<void> owner_;  // null when borrowed
  void* data_ = nullptr;
};

}  // namespace bnfold
