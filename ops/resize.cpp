// Resize (opset 10+) and Upsample (7-9), nearest and linear, reference kernel.
// Interpolation is separable: one axis at a time, following ONNX's reference
// (edge values beyond the borders; tf_crop_and_resize extrapolates).
#include <algorithm>
#include <cmath>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

class Resize : public OpKernel {
 public:
  explicit Resize(ResizeOp op) : op_(op) {}

  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    const auto& in = ctx.dims(0);
    const bool upsample = op_ == ResizeOp::Upsample;
    mode_ = n.attr_string("mode");
    if (mode_ == "bilinear" || mode_ == "trilinear") mode_ = "linear";  // Upsample-7 spellings
    BNFOLD_NODE_CHECK(ctx, mode_ == "nearest" || mode_ == "linear", "mode '{}' is not supported (nearest and linear are)",
                      mode_);
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)) || mode_ == "nearest", "{} data is not supported",
                      dtype_name(ctx.dtype(0)));
    std::vector<double> scales;
    std::vector<int64_t> sizes;
    if (upsample && ctx.opset() < 9) {
      for (float s : n.attr_floats("scales")) scales.push_back(s);
    } else if (upsample || ctx.opset() < 11) {
      const Tensor& s = ctx.constant(1, "scales");
      for (int64_t i = 0; i < s.numel(); ++i) scales.push_back(s.value_at(i));
    } else {
      const bool crop = n.attr_string("coordinate_transformation_mode") == "tf_crop_and_resize";
      if (crop || (ctx.has_input(1) && ctx.input(1).value && product(ctx.dims(1)) > 0)) {
        const Tensor& r = ctx.constant(1, "roi");
        for (int64_t i = 0; i < r.numel(); ++i) roi_.push_back(r.value_at(i));
      }
      if (ctx.has_input(2) && product(ctx.dims(2)) > 0) {
        const Tensor& s = ctx.constant(2, "scales");
        for (int64_t i = 0; i < s.numel(); ++i) scales.push_back(s.value_at(i));
      }
      if (ctx.has_input(3) && product(ctx.dims(3)) > 0) sizes = ctx.constant_ints(3, "sizes");
    }
    if (ctx.opset() >= 11 && !upsample) {
      transform_ = n.attr_string("coordinate_transformation_mode");
      nearest_mode_ = n.attr_string("nearest_mode");
      extrapolation_ = n.attr_float("extrapolation_value");
    } else {
      transform_ = "asymmetric";
      nearest_mode_ = "floor";
    }
    BNFOLD_NODE_CHECK(ctx, scales.empty() != sizes.empty(), "give exactly one of scales and sizes");
    std::vector<int64_t> out(in.size());
    scales_.resize(in.size());
    for (size_t k = 0; k < in.size(); ++k) {
      if (!sizes.empty()) {
        BNFOLD_NODE_CHECK(ctx, sizes.size() == in.size(), "{} sizes for rank {}", sizes.size(), in.size());
        out[k] = sizes[k];
        scales_[k] = in[k] ? static_cast<double>(sizes[k]) / static_cast<double>(in[k]) : 1.0;
      } else {
        BNFOLD_NODE_CHECK(ctx, scales.size() == in.size(), "{} scales for rank {}", scales.size(), in.size());
        BNFOLD_NODE_CHECK(ctx, scales[k] > 0, "scale {} must be positive", scales[k]);
        scales_[k] = scales[k];
        out[k] = static_cast<int64_t>(std::floor(static_cast<double>(in[k]) * scales[k]));
      }
    }
    if (transform_ == "tf_crop_and_resize")
      BNFOLD_NODE_CHECK(ctx, roi_.size() == 2 * in.size(), "tf_crop_and_resize needs an roi of {} values", 2 * in.size());
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    Tensor cur = to_float64(*in[0]);
    const size_t rank = cur.rank();
    for (size_t k = 0; k < rank; ++k) {
      if (cur.dims()[k] == out[0]->dims()[k] && scales_[k] == 1.0 && transform_ != "tf_crop_and_resize") continue;
      cur = resize_axis(cur, k, out[0]->dims()[k]);
    }
    cast_into(cur, out[0]);
  }

 private:
  ResizeOp op_;
  static Tensor to_float64(const Tensor& t) {
    Tensor d(DType::Float64, t.dims());
    for (int64_t i = 0; i < t.numel(); ++i) d.mutable_data_as<double>()[i] = t.value_at(i);
    return d;
  }

  // Source coordinate of output position x along an axis (ONNX's formulas).
  double source(double x, int64_t in_len, int64_t out_len, size_t axis, bool* outside) const {
    const double scale = scales_[axis];
    const double out_w = scale * static_cast<double>(in_len);
    *outside = false;
    if (transform_ == "align_corners") return out_w == 1 ? 0.0 : x * static_cast<double>(in_len - 1) / (out_w - 1);
    if (transform_ == "asymmetric") return x / scale;
    if (transform_ == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
    if (transform_ == "pytorch_half_pixel") return out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    if (transform_ == "tf_crop_and_resize") {
      const size_t r = roi_.size() / 2;
      const double start = roi_[axis], end = roi_[axis + r];
      const double len = static_cast<double>(in_len - 1);
      const double v = out_len == 1 ? (end - start) * len / 2 + start * len
                                    : x * (end - start) * len / static_cast<double>(out_len - 1) + start * len;
      *outside = v < 0 || v > len;
      return v;
    }
    return (x + 0.5) / scale - 0.5;  // half_pixel
  }

  int64_t nearest(double x) const {
    if (nearest_mode_ == "round_prefer_ceil") return static_cast<int64_t>(std::floor(x + 0.5));
    if (nearest_mode_ == "floor") return static_cast<int64_t>(std::floor(x));
    if (nearest_mode_ == "ceil") return static_cast<int64_t>(std::ceil(x));
    return static_cast<int64_t>(std::ceil(x - 0.5));  // round_prefer_floor
  }

  Tensor resize_axis(const Tensor& src, size_t axis, int64_t out_len) const {
    std::vector<int64_t> d = src.dims();
    const int64_t in_len = d[axis];
    const int64_t outer = product(d, 0, axis), inner = product(d, axis + 1);
    d[axis] = out_len;
    Tensor dst(DType::Float64, d);
    const double* s = src.data_as<double>();
    double* o = dst.mutable_data_as<double>();
    auto at = [&](int64_t ou, int64_t i, int64_t in) {
      i = std::clamp<int64_t>(i, 0, in_len - 1);
      return s[(ou * in_len + i) * inner + in];
    };
    for (int64_t x = 0; x < out_len; ++x) {
      bool outside = false;
      const double xs = source(static_cast<double>(x), in_len, out_len, axis, &outside);
      for (int64_t ou = 0; ou < outer; ++ou)
        for (int64_t in = 0; in < inner; ++in) {
          double v;
          if (outside) {
            v = extrapolation_;
          } else if (mode_ == "nearest") {
            v = at(ou, nearest(xs), in);
          } else {
            const double f = std::floor(xs);
            const double r = xs - f;
            const auto lo = static_cast<int64_t>(f);
            v = r == 0 ? at(ou, lo, in) : at(ou, lo, in) * (1 - r) + at(ou, lo + 1, in) * r;
          }
          o[(ou * out_len + x) * inner + in] = v;
        }
    }
    return dst;
  }

  std::string mode_, transform_, nearest_mode_;
  double extrapolation_ = 0;
  std::vector<double> scales_, roi_;
};

}  // namespace

std::unique_ptr<OpKernel> make_resize(const Node&, int variant) {
  return std::make_unique<Resize>(static_cast<ResizeOp>(variant));
}

}  // namespace bnfold::ops
