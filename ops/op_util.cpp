#include "ops/op_util.hpp"

#include <limits>

#include <algorithm>
#include <cstring>

namespace bnfold::ops {

int64_t normalize_axis(const InferContext& ctx, int64_t axis, size_t rank) {
  const auto r = static_cast<int64_t>(rank);
  // Strict, scalars included: an axis of a rank-0 tensor does not exist.
  BNFOLD_NODE_CHECK(ctx, axis >= -r && axis < r, "axis {} is out of range for rank {}", axis, rank);
  return axis < 0 ? axis + r : axis;
}

std::vector<int64_t> broadcast_dims(const InferContext& ctx, const std::vector<int64_t>& a,
                                    const std::vector<int64_t>& b) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t k = 0; k < rank; ++k) {
    const int64_t da = k < rank - a.size() ? 1 : a[k - (rank - a.size())];
    const int64_t db = k < rank - b.size() ? 1 : b[k - (rank - b.size())];
    BNFOLD_NODE_CHECK(ctx, da == db || da == 1 || db == 1,
                      "shapes {} and {} do not broadcast (dim {}: {} vs {})",
                      Shape::of(a).str(), Shape::of(b).str(), k, da, db);
    out[k] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> strides_of(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) s[k - 1] = s[k] * dims[k];
  return s;
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  BNFOLD_CHECK(!__builtin_mul_overflow(a, b, &r), ErrorCode::InvalidModel,
               "a shape's element count overflows ({} x {})", a, b);
  return r;
}

int64_t product(const std::vector<int64_t>& dims, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < dims.size() && k < to; ++k) p = checked_mul(p, dims[k]);
  return p;
}

BroadcastWalker::BroadcastWalker(const std::vector<int64_t>& out_dims,
                                 const std::vector<int64_t>& in_dims) {
  const int64_t total = product(out_dims);
  if (in_dims == out_dims) {
    identity_ = true;
    return;
  }
  const size_t rank = out_dims.size();
  std::vector<int64_t> in_strides(rank, 0);
  const auto s = strides_of(in_dims);
  for (size_t k = 0; k < in_dims.size(); ++k) {
    const size_t o = rank - in_dims.size() + k;
    in_strides[o] = in_dims[k] == 1 ? 0 : s[k];
  }
  offsets_.resize(static_cast<size_t>(total));
  std::vector<int64_t> idx(rank, 0);
  int64_t off = 0;
  for (int64_t i = 0; i < total; ++i) {
    offsets_[static_cast<size_t>(i)] = off;
    for (size_t k = rank; k-- > 0;) {  // increment the multi-index
      if (++idx[k] < out_dims[k]) {
        off += in_strides[k];
        break;
      }
      off -= in_strides[k] * (out_dims[k] - 1);
      idx[k] = 0;
    }
  }
}

Tensor to_float32(const Tensor& t) {
  Tensor f(DType::Float32, t.dims());
  float* p = f.mutable_data_as<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(t.value_at(i));
  return f;
}

Tensor to_float64(const Tensor& t) {
  Tensor f(DType::Float64, t.dims());
  double* p = f.mutable_data_as<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = t.value_at(i);
  return f;
}

void store_real(const Tensor& y, Tensor* out) {
  if (y.dtype() == out->dtype()) {
    copy_bytes(y, out);
  } else if (y.dtype() == DType::Float32) {
    store_from_float32(y, out);
  } else {
    store_from_float32(to_float32(y), out);
  }
}

void store_from_float32(const Tensor& f, Tensor* out) {
  const float* p = f.data_as<float>();
  const int64_t n = f.numel();
  switch (out->dtype()) {
    case DType::Float32: std::memcpy(out->mutable_data(), p, static_cast<size_t>(n) * 4); return;
    case DType::Float64:
      for (int64_t i = 0; i < n; ++i) out->mutable_data_as<double>()[i] = p[i];
      return;
    case DType::Float16:
      for (int64_t i = 0; i < n; ++i) out->mutable_data_as<uint16_t>()[i] = float_to_half(p[i]);
      return;
    case DType::BFloat16:
      for (int64_t i = 0; i < n; ++i) out->mutable_data_as<uint16_t>()[i] = float_to_bfloat16(p[i]);
      return;
    default: failf(ErrorCode::Internal, "store_from_float32 into {}", dtype_name(out->dtype()));
  }
}

void copy_bytes(const Tensor& from, Tensor* to) {
  BNFOLD_CHECK(from.nbytes() == to->nbytes(), ErrorCode::Internal, "copy of {} into {}",
               from.describe(), to->describe());
  if (from.nbytes()) std::memcpy(to->mutable_data(), from.data(), from.nbytes());
}

Tensor int64_tensor(const std::vector<int64_t>& values, std::vector<int64_t> dims) {
  Tensor t(DType::Int64, std::move(dims));
  std::copy(values.begin(), values.end(), t.mutable_data_as<int64_t>());
  return t;
}

int64_t int_at(const Tensor& t, int64_t i) {
  if (t.dtype() == DType::Int64) {
    BNFOLD_CHECK(i >= 0 && i < t.numel(), ErrorCode::Internal, "element {} out of range {}", i, t.numel());
    return t.data_as<int64_t>()[i];
  }
  const double v = t.value_at(i);
  constexpr double kLimit = 9223372036854775807.0;  // 2^63: the first double past int64's range
  if (v != v) return 0;
  if (v >= kLimit) return std::numeric_limits<int64_t>::max();
  if (v <= -kLimit) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

}  // namespace bnfold::ops
