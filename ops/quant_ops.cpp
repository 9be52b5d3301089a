// QuantizeLinear and DequantizeLinear, reference kernels (opset 10: one
// scale; 13: also one per slice along `axis`). The ops of a QDQ model (ONNX
// Runtime's quantizer, `bnfold quantize`): run as written they simulate int8
// in float32, which is what the tests compare ONNX Runtime's int8 against.
#include <algorithm>
#include <cmath>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

bool quantized(DType t) { return t == DType::Int8 || t == DType::UInt8 || t == DType::Int32; }

// The scale (and zero point) of each element: one value, or one per slice along `axis`.
struct Params {
  int64_t axis = 0, inner = 1, count = 1;  // element i uses entry (i / inner) % count

  void infer(InferContext& ctx, size_t scale_input) {
    const auto& x = ctx.dims(0);
    const auto& s = ctx.dims(scale_input);
    count = product(s);
    BNFOLD_NODE_CHECK(ctx, s.size() <= 1, "the scale must be a scalar or 1-D, not rank {}", s.size());
    if (ctx.has_input(2))
      BNFOLD_NODE_CHECK(ctx, product(ctx.dims(2)) == count, "the zero point has {} values, the scale {}",
                        product(ctx.dims(2)), count);
    if (count == 1) return;  // one scale (a scalar, or a 1-D one of one value): per tensor
    axis = ctx.node().graph_opset() >= 13 ? ctx.node().attr_int("axis") : 1;
    const auto rank = static_cast<int64_t>(x.size());
    if (axis < 0) axis += rank;
    BNFOLD_NODE_CHECK(ctx, axis >= 0 && axis < rank, "axis {} is outside the input's rank {}", axis, rank);
    BNFOLD_NODE_CHECK(ctx, x[static_cast<size_t>(axis)] == count, "{} scales for {} slices along axis {}", count,
                      x[static_cast<size_t>(axis)], axis);
    inner = product(x, static_cast<size_t>(axis) + 1, x.size());
  }
  int64_t at(int64_t i) const { return count == 1 ? 0 : (i / inner) % count; }
};

class QuantizeLinear : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)), "quantizes float data, not {}", dtype_name(ctx.dtype(0)));
    out_ = ctx.has_input(2) ? ctx.dtype(2) : DType::UInt8;
    BNFOLD_NODE_CHECK(ctx, out_ == DType::Int8 || out_ == DType::UInt8, "the zero point is {}, not int8 or uint8",
                      dtype_name(out_));
    p_.infer(ctx, 1);
    ctx.set_output(0, out_, ctx.dims(0));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const double lo = out_ == DType::Int8 ? -128 : 0, hi = out_ == DType::Int8 ? 127 : 255;
    const Tensor& x = *in[0];
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t k = p_.at(i);
      const double zp = in.size() > 2 && in[2] ? in[2]->value_at(k) : 0;
      // x / scale in float32 (as ONNX's reference and ONNX Runtime divide), rounded half to even, saturated
      const float ratio = static_cast<float>(x.value_at(i)) / static_cast<float>(in[1]->value_at(k));
      const double q = std::clamp(std::nearbyint(static_cast<double>(ratio)) + zp, lo, hi);
      if (out_ == DType::Int8) out[0]->mutable_data_as<int8_t>()[i] = static_cast<int8_t>(q);
      else out[0]->mutable_data_as<uint8_t>()[i] = static_cast<uint8_t>(q);
    }
  }

 private:
  DType out_ = DType::UInt8;
  Params p_;
};

class DequantizeLinear : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, quantized(ctx.dtype(0)), "dequantizes int8, uint8 or int32 data, not {}",
                      dtype_name(ctx.dtype(0)));
    if (ctx.has_input(2))
      BNFOLD_NODE_CHECK(ctx, ctx.dtype(2) == ctx.dtype(0), "the zero point is {}, the data {}",
                        dtype_name(ctx.dtype(2)), dtype_name(ctx.dtype(0)));
    // float scales (up to opset 18: float32 only)
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(1) == DType::Float32, "the scale is {}, not float32", dtype_name(ctx.dtype(1)));
    p_.infer(ctx, 1);
    ctx.set_output(0, DType::Float32, ctx.dims(0));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const Tensor& x = *in[0];
    Tensor& y = *out[0];
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t k = p_.at(i);
      const double zp = in.size() > 2 && in[2] ? in[2]->value_at(k) : 0;
      // float32 arithmetic, as the operator's definition: (x - zp) * scale
      y.mutable_data_as<float>()[i] = static_cast<float>(x.value_at(i) - zp) * static_cast<float>(in[1]->value_at(k));
    }
  }

 private:
  Params p_;
};

}  // namespace

std::unique_ptr<OpKernel> make_quantize_linear(const Node&, int) { return std::make_unique<QuantizeLinear>(); }
std::unique_ptr<OpKernel> make_dequantize_linear(const Node&, int) { return std::make_unique<DequantizeLinear>(); }

}  // namespace bnfold::ops
