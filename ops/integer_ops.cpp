// Integer arithmetic ops of quantized models, reference kernels:
// MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv and
// DynamicQuantizeLinear.
//
// The four linear ones subtract their zero points into float64 operands and
// run the float MatMul or Conv reference kernel on them: int8 x int8 products
// summed are exact integers in double, so the int32 accumulator is exact.
// QLinear* then requantize as ONNX Runtime does: the accumulator times
// (a_scale x b_scale / y_scale) in float32, rounded half to even, plus the
// output zero point, saturated.
#include <algorithm>
#include <cmath>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

enum Variant { kMatMulInteger = 0, kConvInteger = 1, kQLinearMatMul = 2, kQLinearConv = 3 };

bool is_int8(DType t) { return t == DType::Int8 || t == DType::UInt8; }

// x - zero_point as float64, the zero point one value or one per slice along axis.
Tensor shifted(const Tensor& x, const Tensor* zp, int64_t axis) {
  Tensor out(DType::Float64, x.dims());
  const int64_t count = zp ? zp->numel() : 1;
  const int64_t inner = count > 1 ? product(x.dims(), static_cast<size_t>(axis) + 1) : 1;
  for (int64_t i = 0; i < x.numel(); ++i)
    out.mutable_data_as<double>()[i] = x.value_at(i) - (zp ? zp->value_at(count > 1 ? (i / inner) % count : 0) : 0.0);
  return out;
}

class IntegerLinalg : public OpKernel {
 public:
  explicit IntegerLinalg(const Node& n, int variant)
      : v_(variant), inner_(variant == kMatMulInteger || variant == kQLinearMatMul ? make_matmul(n, 0) : make_conv(n, 0)) {}

  void infer(InferContext& ctx) override {
    const bool q = v_ >= kQLinearMatMul;
    a_ = 0, b_ = q ? 3 : 1;
    BNFOLD_NODE_CHECK(ctx, is_int8(ctx.dtype(a_)) && is_int8(ctx.dtype(b_)), "takes int8 or uint8 operands, not {} and {}",
                      dtype_name(ctx.dtype(a_)), dtype_name(ctx.dtype(b_)));
    const size_t azp = 2, bzp = q ? 5 : 3;
    for (size_t i : {azp, bzp})
      if (ctx.has_input(i))
        BNFOLD_NODE_CHECK(ctx, ctx.dtype(i) == ctx.dtype(i == azp ? a_ : b_), "zero point {} is {}, its operand {}", i,
                          dtype_name(ctx.dtype(i)), dtype_name(ctx.dtype(i == azp ? a_ : b_)));
    const bool matmul = v_ == kMatMulInteger || v_ == kQLinearMatMul;
    const auto& ad = ctx.dims(a_);
    const auto& bd = ctx.dims(b_);
    a_axis_ = matmul ? static_cast<int64_t>(ad.size()) - 2 : 1;  // per-row A zero point; Conv's x has one
    b_axis_ = matmul ? static_cast<int64_t>(bd.size()) - 1 : 0;  // per-column B, per-output-channel W
    auto float64 = [](const std::vector<int64_t>& dims) {  // an operand as the float kernel sees it
      ArgInfo a;
      a.present = true, a.dtype = DType::Float64, a.dims = dims;
      return a;
    };
    std::vector<ArgInfo> args{float64(ad), float64(bd)};
    if (v_ == kQLinearConv && ctx.has_input(8)) {
      BNFOLD_NODE_CHECK(ctx, ctx.dtype(8) == DType::Int32, "the bias is {}, not int32", dtype_name(ctx.dtype(8)));
      args.push_back(float64(ctx.dims(8)));
    }
    InferContext inner(ctx.node(), std::move(args));
    inner_->infer(inner);
    const auto& out = inner.outputs()[0].dims;
    // Zero points and scales: one value, or one per row of A / column of B / output channel of W.
    const int64_t rows = matmul && ad.size() >= 2 ? ad[ad.size() - 2] : 1;
    const int64_t cols = matmul ? (bd.size() >= 2 ? bd.back() : 1) : (bd.empty() ? 1 : bd[0]);
    auto check_count = [&](size_t i, int64_t per, const char* what) {
      if (!ctx.has_input(i)) return;
      const int64_t n = product(ctx.dims(i));
      BNFOLD_NODE_CHECK(ctx, n == 1 || (n == per && ctx.dims(i).size() == 1), "{} holds {} values, not 1 or {}", what, n,
                        per);
    };
    check_count(azp, matmul ? rows : 1, "A's zero point");
    check_count(bzp, cols, "B's zero point");
    if (q) {
      check_count(1, matmul ? rows : 1, "A's scale");
      check_count(4, cols, "B's scale");
      check_count(6, 1, "the output scale");
      check_count(7, 1, "the output zero point");
    }
    if (!q) {
      ctx.set_output(0, DType::Int32, out);
      return;
    }
    for (size_t i : {size_t{1}, size_t{4}, size_t{6}})
      BNFOLD_NODE_CHECK(ctx, ctx.dtype(i) == DType::Float32, "scale input {} is {}, not float32", i, dtype_name(ctx.dtype(i)));
    const DType yt = ctx.dtype(7);
    BNFOLD_NODE_CHECK(ctx, is_int8(yt), "the output zero point is {}, not int8 or uint8", dtype_name(yt));
    ctx.set_output(0, yt, out);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const bool q = v_ >= kQLinearMatMul;
    auto opt = [&](size_t i) { return in.size() > i ? in[i] : nullptr; };
    const Tensor a = shifted(*in[a_], opt(2), a_axis_), b = shifted(*in[b_], opt(q ? 5 : 3), b_axis_);
    Tensor bias;
    std::vector<const Tensor*> args{&a, &b};
    if (v_ == kQLinearConv && opt(8)) {
      bias = to_float64(*in[8]);
      args.push_back(&bias);
    }
    Tensor acc(DType::Float64, out[0]->dims());
    inner_->run(args, {&acc});
    if (!q) {
      cast_into(acc, out[0]);
      return;
    }
    const auto& od = acc.dims();
    const float ys = static_cast<float>(in[6]->value_at(0));
    const double zp = in[7]->value_at(0);
    const double lo = out[0]->dtype() == DType::Int8 ? -128 : 0, hi = out[0]->dtype() == DType::Int8 ? 127 : 255;
    const Tensor& as = *in[1];
    const Tensor& bs = *in[4];
    const bool matmul = v_ == kQLinearMatMul;
    const int64_t n_cols = od.empty() ? 1 : od.back(), rows = od.size() >= 2 ? od[od.size() - 2] : 1;
    const int64_t plane = matmul ? 1 : product(od, 2);
    for (int64_t i = 0; i < acc.numel(); ++i) {
      // the scales of this element: per row of A and column of B, or per output channel of W
      const int64_t ai = matmul && as.numel() > 1 ? (i / n_cols) % rows : 0;
      const int64_t bi = matmul ? (bs.numel() > 1 ? i % n_cols : 0) : (bs.numel() > 1 ? (i / plane) % od[1] : 0);
      const float m = static_cast<float>(as.value_at(ai)) * static_cast<float>(bs.value_at(bi)) / ys;
      const float scaled = static_cast<float>(acc.data_as<double>()[i]) * m;
      const double r = std::nearbyint(static_cast<double>(scaled)) + zp;
      const double v = r == r ? std::clamp(r, lo, hi) : zp;  // NaN scales: the zero point
      if (out[0]->dtype() == DType::Int8) out[0]->mutable_data_as<int8_t>()[i] = static_cast<int8_t>(v);
      else out[0]->mutable_data_as<uint8_t>()[i] = static_cast<uint8_t>(v);
    }
  }

 private:
  int v_;
  std::unique_ptr<OpKernel> inner_;
  size_t a_ = 0, b_ = 1;
  int64_t a_axis_ = 0, b_axis_ = 0;
};

// DynamicQuantizeLinear: uint8 with the scale and zero point that map
// [min(x, 0), max(x, 0)] onto [0, 255].
class DynamicQuantizeLinear : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(0) == DType::Float32, "quantizes float32 data, not {}", dtype_name(ctx.dtype(0)));
    ctx.set_output(0, DType::UInt8, ctx.dims(0));
    if (ctx.num_outputs() > 1) ctx.set_output(1, DType::Float32, {});
    if (ctx.num_outputs() > 2) ctx.set_output(2, DType::UInt8, {});
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const float* x = in[0]->data_as<float>();
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < in[0]->numel(); ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
    const float scale = (hi - lo) / 255.0f;
    const float zp = scale == 0 || !std::isfinite(scale) ? 0 : std::clamp(std::nearbyint(-lo / scale), 0.0f, 255.0f);
    for (int64_t i = 0; i < in[0]->numel(); ++i) {
      const float q = scale == 0 ? zp : std::nearbyint(x[i] / scale) + zp;
      out[0]->mutable_data_as<uint8_t>()[i] = static_cast<uint8_t>(q == q ? std::clamp(q, 0.0f, 255.0f) : 0.0f);
    }
    if (out.size() > 1 && out[1]) out[1]->mutable_data_as<float>()[0] = scale;
    if (out.size() > 2 && out[2]) out[2]->mutable_data_as<uint8_t>()[0] = static_cast<uint8_t>(zp);
  }
};

}  // namespace

std::unique_ptr<OpKernel> make_integer_linalg(const Node& n, int variant) {
  return std::make_unique<IntegerLinalg>(n, variant);
}
std::unique_ptr<OpKernel> make_dynamic_quantize_linear(const Node&, int) {
  return std::make_unique<DynamicQuantizeLinear>();
}

}  // namespace bnfold::ops
