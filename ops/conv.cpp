// Conv and ConvTranspose, reference kernels (float32; other float types go
// through float32). 1D/2D/3D share one loop nest by padding to 3 spatial dims.
#include "ops/conv_geometry.hpp"
#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

// Float32 view of a tensor: itself when already float32, else a converted copy.
struct F32 {
  explicit F32(const Tensor& t) : owned(t.dtype() == DType::Float32 ? Tensor() : to_float32(t)),
                                   p(t.dtype() == DType::Float32 ? t.data_as<float>() : owned.data_as<float>()) {}
  Tensor owned;
  const float* p;
};

void check_float(const InferContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i))
      BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(i)), "input {} is {}; only float types are supported", i,
                        dtype_name(ctx.dtype(i)));
}

std::vector<int64_t> spatial(const std::vector<int64_t>& d) { return {d.begin() + 2, d.end()}; }

// What Conv and ConvTranspose check alike; returns the group count.
int64_t check_common(const InferContext& ctx) {
  check_float(ctx);
  const auto& x = ctx.dims(0);
  const auto& w = ctx.dims(1);
  BNFOLD_NODE_CHECK(ctx, x.size() >= 3 && x.size() <= 5 && w.size() == x.size(),
                    "input {} and weight {} must both have rank 3 to 5", Shape::of(x).str(), Shape::of(w).str());
  return ctx.node().attr_int("group");
}

// The sizes one run of either kernel loops over, on the 3-D form of the geometry.
struct Loop {
  Loop(const WindowGeometry& geo, const std::vector<int64_t>& xd, int64_t out_channels, int64_t group)
      : g(as_3d(geo)), N(xd[0]), C(xd[1]), M(out_channels), cg(C / group), mg(M / group), ID(g.in[0]),
        IH(g.in[1]), IW(g.in[2]), OD(g.out[0]), OH(g.out[1]), OW(g.out[2]), KD(g.kernel[0]), KH(g.kernel[1]),
        KW(g.kernel[2]) {}
  WindowGeometry g;
  int64_t N, C, M, cg, mg, ID, IH, IW, OD, OH, OW, KD, KH, KW;
};

class Conv : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    group_ = check_common(ctx);
    const auto& x = ctx.dims(0);
    const auto& w = ctx.dims(1);
    BNFOLD_NODE_CHECK(ctx, group_ > 0 && x[1] % group_ == 0 && w[0] % group_ == 0 && w[1] * group_ == x[1],
                      "{} input channels, weight {}, group {} do not agree", x[1], Shape::of(w).str(), group_);
    if (ctx.has_input(2))
      BNFOLD_NODE_CHECK(ctx, product(ctx.dims(2)) == w[0], "bias has {} values for {} output channels",
                        product(ctx.dims(2)), w[0]);
    std::vector<int64_t> kernel = spatial(w);
    if (ctx.node().has_attr("kernel_shape"))
      BNFOLD_NODE_CHECK(ctx, ctx.node().attr_ints("kernel_shape") == kernel, "kernel_shape disagrees with the weight");
    geo_ = window_geometry(ctx, spatial(x), kernel, false, true);
    std::vector<int64_t> out = {x[0], w[0]};
    out.insert(out.end(), geo_.out.begin(), geo_.out.end());
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const F32 x(*in[0]), w(*in[1]);
    const bool has_bias = in.size() > 2 && in[2];
    const F32 b(has_bias ? *in[2] : *in[1]);
    const auto [g, N, C, M, cg, mg, ID, IH, IW, OD, OH, OW, KD, KH, KW] =
        Loop(geo_, in[0]->dims(), in[1]->dims()[0], group_);
    Tensor y(DType::Float32, out[0]->dims());
    float* py = y.mutable_data_as<float>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t m = 0; m < M; ++m) {
        const int64_t grp = m / mg;
        for (int64_t od = 0; od < OD; ++od)
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
              double acc = has_bias ? b.p[m] : 0.0;
              for (int64_t c = 0; c < cg; ++c)
                for (int64_t kd = 0; kd < KD; ++kd) {
                  const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
                  if (id < 0 || id >= ID) continue;
                  for (int64_t kh = 0; kh < KH; ++kh) {
                    const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
                    if (ih < 0 || ih >= IH) continue;
                    for (int64_t kw = 0; kw < KW; ++kw) {
                      const int64_t iw = ow * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
                      if (iw < 0 || iw >= IW) continue;
                      const float xv = x.p[(((n * C + grp * cg + c) * ID + id) * IH + ih) * IW + iw];
                      const float wv = w.p[(((m * cg + c) * KD + kd) * KH + kh) * KW + kw];
                      acc += static_cast<double>(xv) * wv;
                    }
                  }
                }
              py[(((n * M + m) * OD + od) * OH + oh) * OW + ow] = static_cast<float>(acc);
            }
      }
    if (out[0]->dtype() == DType::Float32) copy_bytes(y, out[0]);
    else store_from_float32(y, out[0]);
  }

 private:
  int64_t group_ = 1;
  WindowGeometry geo_;
};

class ConvTranspose : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    group_ = check_common(ctx);
    const auto& x = ctx.dims(0);
    const auto& w = ctx.dims(1);
    BNFOLD_NODE_CHECK(ctx, group_ > 0 && w[0] == x[1] && x[1] % group_ == 0,
                      "{} input channels, weight {}, group {} do not agree", x[1], Shape::of(w).str(), group_);
    std::vector<int64_t> output_padding;
    geo_ = transposed_geometry(ctx, spatial(x), spatial(w), &output_padding);
    std::vector<int64_t> out = {x[0], w[1] * group_};
    out.insert(out.end(), geo_.out.begin(), geo_.out.end());
    if (ctx.has_input(2))
      BNFOLD_NODE_CHECK(ctx, product(ctx.dims(2)) == out[1], "bias has {} values for {} output channels",
                        product(ctx.dims(2)), out[1]);
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const F32 x(*in[0]), w(*in[1]);
    const bool has_bias = in.size() > 2 && in[2];
    const F32 b(has_bias ? *in[2] : *in[1]);
    const auto [g, N, C, M, cg, mg, ID, IH, IW, OD, OH, OW, KD, KH, KW] =
        Loop(geo_, in[0]->dims(), out[0]->dims()[1], group_);
    const int64_t osz = OD * OH * OW;
    std::vector<double> acc(static_cast<size_t>(N * M * osz), 0.0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t o = 0; o < osz; ++o) acc[static_cast<size_t>((n * M + m) * osz + o)] = has_bias ? b.p[m] : 0.0;
    // Scatter: every input element adds its kernel-weighted footprint.
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t grp = c / cg;
        for (int64_t id = 0; id < ID; ++id)
          for (int64_t ih = 0; ih < IH; ++ih)
            for (int64_t iw = 0; iw < IW; ++iw) {
              const double xv = x.p[(((n * C + c) * ID + id) * IH + ih) * IW + iw];
              for (int64_t mm = 0; mm < mg; ++mm) {
                const int64_t m = grp * mg + mm;
                for (int64_t kd = 0; kd < KD; ++kd) {
                  const int64_t od = id * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
                  if (od < 0 || od >= OD) continue;
                  for (int64_t kh = 0; kh < KH; ++kh) {
                    const int64_t oh = ih * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
                    if (oh < 0 || oh >= OH) continue;
                    for (int64_t kw = 0; kw < KW; ++kw) {
                      const int64_t ow = iw * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
                      if (ow < 0 || ow >= OW) continue;
                      const float wv = w.p[(((c * mg + mm) * KD + kd) * KH + kh) * KW + kw];
                      acc[static_cast<size_t>((((n * M + m) * OD + od) * OH + oh) * OW + ow)] += xv * wv;
                    }
                  }
                }
              }
            }
      }
    Tensor y(DType::Float32, out[0]->dims());
    float* py = y.mutable_data_as<float>();
    for (size_t i = 0; i < acc.size(); ++i) py[i] = static_cast<float>(acc[i]);
    if (out[0]->dtype() == DType::Float32) copy_bytes(y, out[0]);
    else store_from_float32(y, out[0]);
  }

 private:
  int64_t group_ = 1;
  WindowGeometry geo_;
};

}  // namespace

std::unique_ptr<OpKernel> make_conv(const Node&, int) { return std::make_unique<Conv>(); }
std::unique_ptr<OpKernel> make_conv_transpose(const Node&, int) { return std::make_unique<ConvTranspose>(); }

// Each output element is a dot product over C_in/g x kernel (the weight's dims after the first).
double conv_flops(const Node&, const InferContext& ctx) {
  return 2.0 * static_cast<double>(product(ctx.outputs()[0].dims)) * static_cast<double>(product(ctx.dims(1), 1));
}

// Each input element is scattered into C_out/g x kernel outputs.
double conv_transpose_flops(const Node&, const InferContext& ctx) {
  return 2.0 * static_cast<double>(product(ctx.dims(0))) * static_cast<double>(product(ctx.dims(1), 1));
}

}  // namespace bnfold::ops
