// Resize (opset 10+) and Upsample (7-9), nearest, linear and cubic, reference kernel.
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
    BNFOLD_NODE_CHECK(ctx, mode_ == "nearest" || mode_ == "linear" || (mode_ == "cubic" && !upsample && ctx.opset() >= 11),
                      "mode '{}' is not supported (nearest and linear are, and cubic from Resize-11)", mode_);
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
      cubic_a_ = n.attr_float("cubic_coeff_a");
      exclude_outside_ = n.attr_int("exclude_outside") != 0;
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
        scales_[k] = in[k] ? static_cast<float>(sizes[k]) / static_cast<float>(in[k]) : 1.0f;
      } else {
        BNFOLD_NODE_CHECK(ctx, scales.size() == in.size(), "{} scales for rank {}", scales.size(), in.size());
        BNFOLD_NODE_CHECK(ctx, scales[k] > 0, "scale {} must be positive", scales[k]);
        scales_[k] = scales[k];
        // In float32, as ONNX Runtime: 5 x 1.4f is 7, not 6.99999988.
        out[k] = static_cast<int64_t>(std::floor(static_cast<float>(in[k]) * static_cast<float>(scales[k])));
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

  // Source coordinate of output position x along an axis: ONNX's formulas,
  // in float32 arithmetic as ONNX Runtime computes them (a coordinate that
  // lands on .5 or an integer rounds the way ORT's does).
  double source(double xd, int64_t in_len, int64_t out_len, size_t axis, bool* outside) const {
    const float x = static_cast<float>(xd), scale = static_cast<float>(scales_[axis]);
    const float in_f = static_cast<float>(in_len), out_f = static_cast<float>(out_len);
    *outside = false;
    // align_corners divides by the output length minus 1, as ORT does; ONNX's
    // reference divides by in x scale - 1 (unrounded) and expects 3.14286 where
    // ORT gives 4 in conformance case resize_downsample_scales_linear_align_corners.
    if (transform_ == "align_corners") return out_len == 1 ? 0.0f : x * (in_f - 1) / (out_f - 1);
    if (transform_ == "asymmetric") return x / scale;
    if (transform_ == "tf_half_pixel_for_nn") return (x + 0.5f) / scale;
    if (transform_ == "pytorch_half_pixel") return out_len > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    if (transform_ == "tf_crop_and_resize") {
      const size_t r = roi_.size() / 2;
      const float start = static_cast<float>(roi_[axis]), end = static_cast<float>(roi_[axis + r]);
      const float v = out_len > 1 ? start * (in_f - 1) + x * (end - start) * (in_f - 1) / (out_f - 1)
                                  : 0.5f * (start + end) * (in_f - 1);
      *outside = v < 0 || v > in_f - 1;
      return v;
    }
    return (x + 0.5f) / scale - 0.5f;  // half_pixel
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
          } else if (mode_ == "cubic") {
            v = cubic(xs, in_len, [&](int64_t i) { return at(ou, i, in); });
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

  // Keys' cubic convolution on taps floor(x) - 1 .. floor(x) + 2 (edge values
  // beyond the borders; with exclude_outside those taps get weight 0 and the
  // rest is renormalized), ONNX's reference formula.
  template <typename F>
  double cubic(double x, int64_t in_len, F&& value) const {
    const double f = std::floor(x), t = x - f, a = cubic_a_;
    auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };  // 1 <= d < 2
    auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };       // 0 <= d < 1
    const double w[4] = {far(t + 1), near(t), near(1 - t), far(2 - t)};
    double sum = 0, norm = 0;
    for (int k = 0; k < 4; ++k) {
      const int64_t i = static_cast<int64_t>(f) - 1 + k;
      if (exclude_outside_ && (i < 0 || i >= in_len)) continue;
      sum += w[k] * value(i);
      norm += w[k];
    }
    return exclude_outside_ && norm != 0 ? sum / norm : sum;
  }

  std::string mode_, transform_, nearest_mode_;
  double extrapolation_ = 0, cubic_a_ = -0.75;
  bool exclude_outside_ = false;
  std::vector<double> scales_, roi_;
};

}  // namespace

std::unique_ptr<OpKernel> make_resize(const Node&, int variant) {
  return std::make_unique<Resize>(static_cast<ResizeOp>(variant));
}

}  // namespace bnfold::ops
