#include "passes/affine.hpp"

#include <cmath>

#include <fmt/format.h>

#include "bnfold/graph/batchnorm.hpp"

namespace bnfold {

std::vector<double> doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.value_at(i);
  return v;
}

// A tensor of `dtype` holding v; "" or why not (float16 overflow, naming the
// channel that channel_of maps the element to).
std::string store_weights(DType dtype, const std::vector<int64_t>& dims, const std::vector<double>& v, Tensor* out,
                  const std::function<int64_t(size_t)>& channel_of) {
  Tensor t(dtype, dims);
  for (size_t i = 0; i < v.size(); ++i) {
    const auto k = static_cast<int64_t>(i);
    switch (dtype) {
      case DType::Float32: t.mutable_data_as<float>()[k] = static_cast<float>(v[i]); break;
      case DType::Float64: t.mutable_data_as<double>()[k] = v[i]; break;
      case DType::BFloat16: t.mutable_data_as<uint16_t>()[k] = float_to_bfloat16(static_cast<float>(v[i])); break;
      case DType::Float16:
        if (std::isfinite(v[i]) && std::fabs(v[i]) > 65504.0)
          return fmt::format("the folded weights overflow float16 at output channel {} ({:.6g})", channel_of(i), v[i]);
        t.mutable_data_as<uint16_t>()[k] = float_to_half(static_cast<float>(v[i]));
        break;
      default: return fmt::format("weights are {}; folding needs float weights", dtype_name(dtype));
    }
  }
  *out = std::move(t);
  return "";
}

std::string batchnorm_affine(const Node& bn, ChannelAffine* out) {
  const std::optional<BatchNorm> view = BatchNorm::of(bn);
  if (!view) return "not a BatchNormalization with an output";
  const BatchNormAttrs& attrs = view->attrs();
  if (attrs.training)
    return "BN is in training mode (" + attrs.training_why +
           "): it normalizes with batch statistics; --eval-mode switches it to its running statistics";
  if (!attrs.spatial) return "spatial=0: BN normalizes each activation separately";
  if (!view->inference_with_constants()) return "BN's parameters are not constant";
  const std::vector<double> gamma = doubles(bn.input(1)->data()), beta = doubles(bn.input(2)->data()),
                            mean = doubles(bn.input(3)->data()), var = doubles(bn.input(4)->data());
  const size_t c = gamma.size();
  if (beta.size() != c || mean.size() != c || var.size() != c) return "BN's parameters differ in length";
  out->scale.resize(c);
  out->shift.resize(c);
  for (size_t i = 0; i < c; ++i) {
    if (!std::isfinite(gamma[i]) || !std::isfinite(beta[i]) || !std::isfinite(mean[i]) || !std::isfinite(var[i]))
      return fmt::format("NaN or Inf in BN's parameters at channel {}", i);
    const double denom = var[i] + attrs.epsilon;
    if (!(denom > 0)) return fmt::format("running var + eps <= 0 at channel {} ({:.6g})", i, denom);
    out->scale[i] = gamma[i] / std::sqrt(denom);
    out->shift[i] = beta[i] - mean[i] * out->scale[i];
  }
  return "";
}

bool channel_vector(const Tensor& t, size_t rank, int64_t channels, std::vector<double>* out) {
  const auto& d = t.dims();
  if (t.numel() == 1) {
    out->assign(static_cast<size_t>(channels), t.value_at(0));
    return true;
  }
  if (t.numel() != channels || d.size() > rank) return false;
  // Right-aligned against the activation, the non-1 dim must land on axis 1.
  for (size_t k = 0; k < d.size(); ++k) {
    const size_t axis = rank - d.size() + k;
    if (d[k] != 1 && axis != 1) return false;
  }
  out->resize(static_cast<size_t>(channels));
  for (int64_t i = 0; i < channels; ++i) (*out)[static_cast<size_t>(i)] = t.value_at(i);
  return true;
}

}  // namespace bnfold
