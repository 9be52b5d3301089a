#include "bnfold/runtime/tensor_tools.hpp"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <random>

#include "graph/check.hpp"

namespace bnfold {

std::map<std::string, Tensor> random_inputs(const Session& session, int64_t batch, uint64_t seed) {
  BNFOLD_CHECK(batch >= 1 && batch <= (int64_t{1} << 31), ErrorCode::InvalidArgument,
               "batch {} is outside [1, 2^31]: random inputs need at least one sample", batch);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::map<std::string, Tensor> out;
  for (const TensorSpec& spec : session.inputs()) {
    BNFOLD_CHECK(spec.shape.rank_known, ErrorCode::InvalidArgument,
                 "input '{}' has no declared shape; give it with --input", spec.name);
    std::vector<int64_t> dims;
    bool batch_used = false;
    for (const Dim& d : spec.shape.dims) {
      if (d.known()) {
        dims.push_back(d.value);
      } else {
        BNFOLD_CHECK(!batch_used, ErrorCode::InvalidArgument,
                     "input '{}' {} has more than one free dim; give it with --input", spec.name,
                     spec.shape.str());
        dims.push_back(batch);
        batch_used = true;
      }
    }
    Tensor t(spec.dtype, dims);
    for (int64_t i = 0; i < t.numel(); ++i) {
      switch (spec.dtype) {
        case DType::Float32: t.mutable_data_as<float>()[i] = normal(rng); break;
        case DType::Float64: t.mutable_data_as<double>()[i] = normal(rng); break;
        case DType::Float16: t.mutable_data_as<uint16_t>()[i] = float_to_half(normal(rng)); break;
        case DType::Int64: t.mutable_data_as<int64_t>()[i] = static_cast<int64_t>(rng() % 10); break;
        case DType::Int32: t.mutable_data_as<int32_t>()[i] = static_cast<int32_t>(rng() % 10); break;
        case DType::Bool:
        case DType::UInt8: t.mutable_data_as<uint8_t>()[i] = static_cast<uint8_t>(rng() % 2); break;
        default:
          failf(ErrorCode::Unsupported, "input '{}': no random data for {}; give it with --input", spec.name,
                dtype_name(spec.dtype));
      }
    }
    out.emplace(spec.name, std::move(t));
  }
  return out;
}

TensorDiff compare_tensors(const Tensor& got, const Tensor& want, double rtol, double atol) {
  TensorDiff d;
  if (got.dims() != want.dims()) {
    d.shape_mismatch = true;
    return d;
  }
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double a = got.value_at(i), b = want.value_at(i);
    if ((std::isnan(a) && std::isnan(b)) || a == b) continue;
    const double diff = std::fabs(a - b);
    // Unequal where either is NaN or infinite: a mismatch whatever the
    // tolerance (rtol x inf would be NaN and compare false).
    if (std::isnan(diff) || !std::isfinite(a) || !std::isfinite(b)) {
      ++d.mismatches;
      d.max_abs = d.max_rel = INFINITY;
      if (d.worst_index < 0) d.worst_index = i;
      continue;
    }
    d.max_abs = std::max(d.max_abs, diff);
    if (b != 0) d.max_rel = std::max(d.max_rel, diff / std::fabs(b));
    const double excess = diff - (atol + rtol * std::fabs(b));
    if (excess > 0) {
      ++d.mismatches;
      if (excess > worst) {
        worst = excess;
        d.worst_index = i;
      }
    }
  }
  return d;
}

Tensor concat_rows(const std::vector<Tensor>& parts) {
  BNFOLD_CHECK(!parts.empty() && parts[0].rank() >= 1, ErrorCode::InvalidArgument, "concat_rows: nothing to join");
  std::vector<int64_t> dims = parts[0].dims();
  dims[0] = 0;
  for (const Tensor& t : parts) {
    BNFOLD_CHECK(t.dtype() == parts[0].dtype() && t.rank() == parts[0].rank() &&
                     std::equal(t.dims().begin() + 1, t.dims().end(), parts[0].dims().begin() + 1),
                 ErrorCode::InvalidArgument, "concat_rows: parts of different dtypes or dims");
    dims[0] += t.dims()[0];
  }
  Tensor all(parts[0].dtype(), dims);
  size_t at = 0;
  for (const Tensor& t : parts) {
    std::memcpy(static_cast<char*>(all.mutable_data()) + at, t.data(), t.nbytes());
    at += t.nbytes();
  }
  return all;
}

TensorStats tensor_stats(const Tensor& t) {
  TensorStats s;
  double sum = 0, sq = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = t.value_at(i);
    if (std::isnan(v)) {
      ++s.nan;
      continue;
    }
    if (std::isinf(v)) {
      ++s.inf;
      continue;
    }
    if (n == 0 || v < s.min) s.min = v;
    if (n == 0 || v > s.max) s.max = v;
    sum += v;
    sq += v * v;
    ++n;
  }
  if (n > 0) {
    s.mean = sum / static_cast<double>(n);
    s.std = std::sqrt(std::max(0.0, sq / static_cast<double>(n) - s.mean * s.mean));
  }
  return s;
}

std::vector<std::pair<int64_t, double>> top_k(const Tensor& t, int64_t row, int k) {
  BNFOLD_CHECK(t.rank() == 2 && row < t.dims()[0], ErrorCode::InvalidArgument, "top_k needs a 2-D tensor");
  const int64_t n = t.dims()[1];
  std::vector<std::pair<int64_t, double>> v;
  for (int64_t j = 0; j < n; ++j) v.emplace_back(j, t.value_at(row * n + j));
  const auto kk = static_cast<size_t>(std::min<int64_t>(k, n));
  std::partial_sort(v.begin(), v.begin() + static_cast<int64_t>(kk), v.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second; });
  v.resize(kk);
  return v;
}

}  // namespace bnfold
