// Internal helpers shared by the reference kernels.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "ops/kernel.hpp"

namespace bnfold::ops {

// Resolves a possibly negative axis against a rank; throws naming the node.
int64_t normalize_axis(const InferContext& ctx, int64_t axis, size_t rank);
// Multidirectional (numpy) broadcast of two shapes; throws naming the node.
std::vector<int64_t> broadcast_dims(const InferContext& ctx, const std::vector<int64_t>& a,
                                    const std::vector<int64_t>& b);
// Row-major strides.
std::vector<int64_t> strides_of(const std::vector<int64_t>& dims);
// Overflow-checked: a shape whose element count does not fit int64 is an error.
int64_t product(const std::vector<int64_t>& dims, size_t from = 0, size_t to = SIZE_MAX);
int64_t checked_mul(int64_t a, int64_t b);

// Maps each element of an output shape to the offset of the broadcast input
// element, walking the output in row-major order.
class BroadcastWalker {
 public:
  BroadcastWalker(const std::vector<int64_t>& out_dims, const std::vector<int64_t>& in_dims);
  // Offsets for every output element, in order (fine for reference kernels).
  const std::vector<int64_t>& offsets() const { return offsets_; }
  bool identity() const { return identity_; }

 private:
  std::vector<int64_t> offsets_;
  bool identity_ = false;
};

// Float32 copies of float16/bfloat16/float64 tensors and back, so that
// reference math can be written once for float and double.
Tensor to_float32(const Tensor& t);
// An int64 tensor of `dims` holding values (shapes, indices).
Tensor int64_tensor(const std::vector<int64_t>& values, std::vector<int64_t> dims);
void store_from_float32(const Tensor& f, Tensor* out);

// The float kernels compute in double on float64 data and in float32 on the
// other float types (float16/bfloat16 through float32): a float64 model is
// evaluated in float64, the reference `bnfold verify` measures float32 against.
// Real<T> is a tensor's data as T (T float or double): the tensor itself when
// it holds T already, else a converted copy.
Tensor to_float64(const Tensor& t);
template <typename T>
struct Real {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "float or double");
  explicit Real(const Tensor& t)
      : held(t.dtype() == kind() ? t : std::is_same_v<T, double> ? to_float64(t) : to_float32(t)),
        p(held.data_as<T>()) {}
  static DType kind() { return std::is_same_v<T, double> ? DType::Float64 : DType::Float32; }
  Tensor held;
  const T* p;
};
// Calls f(T{}) with the type a float kernel computes in for data of dtype t.
template <typename F>
void dispatch_real(DType t, F&& f) {
  if (t == DType::Float64) f(double{});
  else f(float{});
}
// A kernel computing in float or double: run() dispatches on the first
// input's dtype to Derived::run_as<T>(in, out) (made a friend where private).
template <typename Derived>
class RealKernel : public OpKernel {
 public:
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto* self = static_cast<const Derived*>(this);
    dispatch_real(in[0]->dtype(), [&](auto tag) { self->template run_as<decltype(tag)>(in, out); });
  }
};
// Stores y (float32 or float64) into out, converting to out's float dtype.
void store_real(const Tensor& y, Tensor* out);

// Integer arithmetic defined for every input (ONNX leaves overflow open;
// bnfold does this on purpose): signed results wrap around in two's
// complement, as numpy's do; a double becomes an integer by truncation,
// saturating at T's range, NaN giving 0.
template <typename T>
T saturate_cast(double v) {
  static_assert(std::is_integral_v<T>);
  if (v != v) return T{};
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}
template <typename T, typename F>
T wrapping(T a, T b, F&& f) {  // f on the unsigned representations
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(f(static_cast<U>(a), static_cast<U>(b))));
  } else {
    return static_cast<T>(f(a, b));
  }
}

// Calls f(T{}) with the C++ type of a numeric dtype; throws for others.
template <typename F>
void dispatch_numeric(DType t, F&& f) {
  switch (t) {
    case DType::Float32: f(float{}); return;
    case DType::Float64: f(double{}); return;
    case DType::Int8: f(int8_t{}); return;
    case DType::UInt8: f(uint8_t{}); return;
    case DType::Int16: f(int16_t{}); return;
    case DType::UInt16: f(uint16_t{}); return;
    case DType::Int32: f(int32_t{}); return;
    case DType::UInt32: f(uint32_t{}); return;
    case DType::Int64: f(int64_t{}); return;
    case DType::UInt64: f(uint64_t{}); return;
    case DType::Bool: f(bool{}); return;
    default: failf(ErrorCode::Unsupported, "no kernel for {} data", dtype_name(t));
  }
}

// Element i as an integer, exact for int64 (value_at's double is not past
// 2^53, and INT64_MAX, ONNX's "no limit", would overflow the cast back);
// other types saturate to int64's range.
int64_t int_at(const Tensor& t, int64_t i);

// A tensor's data as bytes, for kernels that move elements of any type.
inline const char* bytes(const Tensor& t) { return static_cast<const char*>(t.data()); }
inline char* bytes(Tensor* t) { return static_cast<char*>(t->mutable_data()); }

// Copies the bytes of an element-size-compatible tensor (data movement ops).
void copy_bytes(const Tensor& from, Tensor* to);

}  // namespace bnfold::ops
