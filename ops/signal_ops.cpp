// Signal processing ops (opset 17), reference kernels in double: HannWindow,
// HammingWindow, BlackmanWindow, MelWeightMatrix, DFT and STFT. A plain
// O(n^2) transform: these ops feed audio front ends, not the hot path, and
// the direct sum is exact to float32 for the lengths they use. The sizes
// (window size, frame step and length, dft_length) must be known when the
// plan is built, as a Reshape's shape.
#include <cmath>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

constexpr double kPi = 3.14159265358979323846;

int64_t scalar_int(InferContext& ctx, size_t i, const char* what) {
  const Tensor& t = ctx.constant(i, what);
  BNFOLD_NODE_CHECK(ctx, t.numel() == 1, "{} must be one value, not {}", what, t.numel());
  BNFOLD_NODE_CHECK(ctx, !dtype_is_float(t.dtype()), "{} must be an integer", what);
  return int_at(t, 0);
}

DType output_datatype(InferContext& ctx) {
  const int64_t to = ctx.node().attr_int("output_datatype");
  BNFOLD_NODE_CHECK(ctx, dtype_is_known(static_cast<int32_t>(to)), "unknown output_datatype {}", to);
  const auto t = static_cast<DType>(to);
  BNFOLD_NODE_CHECK(ctx, t != DType::String && t != DType::Complex64 && t != DType::Complex128,
                    "output_datatype {} is not numeric", dtype_name(t));
  return t;
}

Tensor cast_to(const Tensor& doubles, DType t) {
  Tensor out(t, doubles.dims());
  cast_into(doubles, &out);
  return out;
}

// Hann (0), Hamming (1), Blackman (2) windows of `size` values; periodic ones
// are the first `size` values of a size + 1 symmetric window.
class Window : public OpKernel {
 public:
  explicit Window(int kind) : kind_(kind) {}
  void infer(InferContext& ctx) override {
    const int64_t size = scalar_int(ctx, 0, "the window size");
    BNFOLD_NODE_CHECK(ctx, size >= 0, "window size {} is negative", size);
    const double n = static_cast<double>(ctx.node().attr_int("periodic") != 0 ? size : size - 1);
    Tensor y(DType::Float64, {size});
    for (int64_t i = 0; i < size; ++i) {
      const double c = n > 0 ? 2 * kPi * static_cast<double>(i) / n : 0;
      double v = 0;
      if (kind_ == 0) v = 0.5 - 0.5 * std::cos(c);
      else if (kind_ == 1) v = 25.0 / 46 - 21.0 / 46 * std::cos(c);
      else v = 0.42 - 0.5 * std::cos(c) + 0.08 * std::cos(2 * c);
      y.mutable_data_as<double>()[i] = v;
    }
    ctx.set_output_value(0, cast_to(y, output_datatype(ctx)));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {}

 private:
  int kind_;
};

// MelWeightMatrix: triangular filters on the mel scale, as ONNX's reference
// computes them (bin edges floored to integers of the spectrogram).
class MelWeightMatrix : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const int64_t bins = scalar_int(ctx, 0, "num_mel_bins"), dft = scalar_int(ctx, 1, "dft_length");
    const int64_t rate = scalar_int(ctx, 2, "sample_rate");
    const double lo = ctx.constant(3, "lower_edge_hertz").value_at(0), hi = ctx.constant(4, "upper_edge_hertz").value_at(0);
    BNFOLD_NODE_CHECK(ctx, bins > 0 && dft > 0 && rate > 0, "num_mel_bins, dft_length and sample_rate must be positive");
    BNFOLD_NODE_CHECK(ctx, 0 <= lo && lo < hi, "the band {} to {} Hz is empty", lo, hi);
    const int64_t spectrum = dft / 2 + 1;
    const double lo_mel = 2595 * std::log10(1 + lo / 700), hi_mel = 2595 * std::log10(1 + hi / 700);
    const double step = (hi_mel - lo_mel) / static_cast<double>(bins + 2);
    std::vector<int64_t> edge(static_cast<size_t>(bins + 2));
    for (int64_t i = 0; i < bins + 2; ++i) {
      const double hz = 700 * (std::pow(10.0, (static_cast<double>(i) * step + lo_mel) / 2595) - 1);
      edge[static_cast<size_t>(i)] = static_cast<int64_t>(std::floor(static_cast<double>(dft + 1) * hz / static_cast<double>(rate)));
    }
    Tensor y(DType::Float64, {spectrum, bins});
    double* p = y.mutable_data_as<double>();
    std::fill_n(p, y.numel(), 0.0);
    auto at = [&](int64_t j, int64_t i) -> double& {
      BNFOLD_NODE_CHECK(ctx, j >= 0 && j < spectrum, "a mel filter reaches bin {}, past the spectrum's {}", j, spectrum);
      return p[j * bins + i];
    };
    for (int64_t i = 0; i < bins; ++i) {
      const int64_t l = edge[static_cast<size_t>(i)], c = edge[static_cast<size_t>(i + 1)], h = edge[static_cast<size_t>(i + 2)];
      if (c == l) at(c, i) = 1;
      else
        for (int64_t j = l; j <= c; ++j) at(j, i) = static_cast<double>(j - l) / static_cast<double>(c - l);
      for (int64_t j = c; j < h; ++j) at(j, i) = static_cast<double>(h - j) / static_cast<double>(h - c);
    }
    ctx.set_output_value(0, cast_to(y, output_datatype(ctx)));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {}
};

// One transform of `n` complex values read from `x` (stride `xs`, complex
// pairs when `complex`, zeros past `avail`), `keep` outputs to y (stride ys).
void transform(const double* x, int64_t xs, bool complex, int64_t avail, int64_t n, bool inverse, int64_t keep,
               double* y, int64_t ys) {
  const double sign = inverse ? 1 : -1;
  for (int64_t k = 0; k < keep; ++k) {
    double re = 0, im = 0;
    for (int64_t t = 0; t < std::min(n, avail); ++t) {
      const double a = sign * 2 * kPi * static_cast<double>((k * t) % n) / static_cast<double>(n);
      const double xr = x[t * xs * (complex ? 2 : 1)], xi = complex ? x[t * xs * 2 + 1] : 0;
      re += xr * std::cos(a) - xi * std::sin(a);
      im += xr * std::sin(a) + xi * std::cos(a);
    }
    if (inverse) re /= static_cast<double>(n), im /= static_cast<double>(n);
    y[k * ys * 2] = re;
    y[k * ys * 2 + 1] = im;
  }
}

class DFT : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)), "DFT of {} data", dtype_name(ctx.dtype(0)));
    BNFOLD_NODE_CHECK(ctx, d.size() >= 3 && (d.back() == 1 || d.back() == 2),
                      "the input must be [batch, signal..., 1 or 2], not {}", Shape::of(d).str());
    axis_ = static_cast<size_t>(ctx.node().attr_int("axis"));
    BNFOLD_NODE_CHECK(ctx, axis_ >= 1 && axis_ + 1 < d.size(), "axis {} is not a signal axis", axis_);
    inverse_ = ctx.node().attr_int("inverse") != 0;
    onesided_ = ctx.node().attr_int("onesided") != 0;
    BNFOLD_NODE_CHECK(ctx, !(inverse_ && onesided_), "an inverse one-sided DFT is not supported");
    n_ = ctx.has_input(1) ? scalar_int(ctx, 1, "dft_length") : d[axis_];
    BNFOLD_NODE_CHECK(ctx, n_ > 0, "dft_length {} must be positive", n_);
    std::vector<int64_t> out = d;
    out[axis_] = onesided_ ? n_ / 2 + 1 : n_;
    out.back() = 2;
    ctx.set_output(0, ctx.dtype(0), out);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const Tensor x = to_float64(*in[0]);
    const auto& d = x.dims();
    const auto& od = out[0]->dims();
    const bool complex = d.back() == 2;
    const int64_t outer = product(d, 0, axis_), inner = product(d, axis_ + 1, d.size() - 1);
    Tensor y(DType::Float64, od);
    for (int64_t b = 0; b < outer; ++b)
      for (int64_t i = 0; i < inner; ++i)
        transform(x.data_as<double>() + (b * d[axis_] * inner + i) * d.back(), inner, complex, d[axis_], n_, inverse_,
                  od[axis_], y.mutable_data_as<double>() + (b * od[axis_] * inner + i) * 2, inner);
    cast_into(y, out[0]);
  }

 private:
  size_t axis_ = 1;
  int64_t n_ = 0;
  bool inverse_ = false, onesided_ = false;
};

// STFT(signal [batch, length, 1 or 2], frame_step, window?, frame_length?):
// [batch, frames, bins, 2].
class STFT : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)), "STFT of {} data", dtype_name(ctx.dtype(0)));
    BNFOLD_NODE_CHECK(ctx, d.size() == 3 && (d[2] == 1 || d[2] == 2),
                      "the signal must be [batch, length, 1 or 2], not {}", Shape::of(d).str());
    step_ = scalar_int(ctx, 1, "frame_step");
    if (ctx.has_input(3)) length_ = scalar_int(ctx, 3, "frame_length");
    else if (ctx.has_input(2)) length_ = ctx.dims(2).empty() ? 0 : ctx.dims(2)[0];
    else BNFOLD_NODE_CHECK(ctx, false, "STFT needs a window or a frame_length");
    if (ctx.has_input(2))
      BNFOLD_NODE_CHECK(ctx, ctx.dims(2) == std::vector<int64_t>{length_}, "the window has {} values, frames {}",
                        product(ctx.dims(2)), length_);
    BNFOLD_NODE_CHECK(ctx, step_ > 0 && length_ > 0 && length_ <= d[1],
                      "frame_step {} and frame_length {} do not fit a signal of {}", step_, length_, d[1]);
    onesided_ = ctx.node().attr_int("onesided") != 0;
    const int64_t frames = (d[1] - length_) / step_ + 1;
    ctx.set_output(0, ctx.dtype(0), {d[0], frames, onesided_ ? length_ / 2 + 1 : length_, 2});
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const Tensor x = to_float64(*in[0]);
    const Tensor w = in.size() > 2 && in[2] ? to_float64(*in[2]) : Tensor();
    const auto& d = x.dims();
    const auto& od = out[0]->dims();
    const int64_t c = d[2];
    Tensor y(DType::Float64, od);
    std::vector<double> frame(static_cast<size_t>(length_ * c));
    for (int64_t b = 0; b < d[0]; ++b)
      for (int64_t f = 0; f < od[1]; ++f) {
        const double* s = x.data_as<double>() + (b * d[1] + f * step_) * c;
        for (int64_t t = 0; t < length_ * c; ++t)
          frame[static_cast<size_t>(t)] = s[t] * (w.empty() ? 1.0 : w.data_as<double>()[t / c]);
        transform(frame.data(), 1, c == 2, length_, length_, false, od[2],
                  y.mutable_data_as<double>() + (b * od[1] + f) * od[2] * 2, 1);
      }
    cast_into(y, out[0]);
  }

 private:
  int64_t step_ = 1, length_ = 0;
  bool onesided_ = true;
};

}  // namespace

std::unique_ptr<OpKernel> make_window(const Node&, int variant) { return std::make_unique<Window>(variant); }
std::unique_ptr<OpKernel> make_mel_weight_matrix(const Node&, int) { return std::make_unique<MelWeightMatrix>(); }
std::unique_ptr<OpKernel> make_dft(const Node&, int) { return std::make_unique<DFT>(); }
std::unique_ptr<OpKernel> make_stft(const Node&, int) { return std::make_unique<STFT>(); }

}  // namespace bnfold::ops
