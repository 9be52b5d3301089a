// Pooling and LRN, reference kernels (float64 in double, other types through float32):
// MaxPool (with optional Indices), AveragePool, GlobalMaxPool,
// GlobalAveragePool, LRN.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/conv_geometry.hpp"
#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

class Pool : public RealKernel<Pool> {
 public:
  explicit Pool(PoolOp op) : op_(op) {}

  void infer(InferContext& ctx) override {
    const auto& x = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)) || (op_ == PoolOp::MaxPool && ctx.opset() >= 12),
                      "{} data is not supported", dtype_name(ctx.dtype(0)));
    BNFOLD_NODE_CHECK(ctx, x.size() >= 3 && x.size() <= 5, "input rank {} (needs 3 to 5)", x.size());
    const std::vector<int64_t> in_spatial(x.begin() + 2, x.end());
    global_ = op_ == PoolOp::GlobalMaxPool || op_ == PoolOp::GlobalAveragePool;
    max_ = op_ == PoolOp::MaxPool || op_ == PoolOp::GlobalMaxPool;
    if (global_) {
      geo_.in = in_spatial;
      geo_.kernel = in_spatial;
      geo_.stride.assign(in_spatial.size(), 1);
      geo_.dilation.assign(in_spatial.size(), 1);
      geo_.pad_begin.assign(in_spatial.size(), 0);
      geo_.pad_end.assign(in_spatial.size(), 0);
      geo_.out.assign(in_spatial.size(), 1);
    } else {
      const Node& n = ctx.node();
      ceil_ = ctx.opset() >= 10 && n.attr_int("ceil_mode") != 0;
      const bool dilations = op_ == PoolOp::MaxPool && ctx.opset() >= 10;
      geo_ = pool_geometry(ctx, in_spatial, n.attr_ints("kernel_shape"), ceil_, dilations);
      if (op_ == PoolOp::AveragePool) {  // the attribute exists from opset 7
        auto a = n.find_attr("count_include_pad");
        count_include_pad_ = a && a->i != 0;
      }
      if (op_ == PoolOp::MaxPool && ctx.opset() >= 8) storage_order_ = n.attr_int("storage_order");
    }
    std::vector<int64_t> out = {x[0], x[1]};
    out.insert(out.end(), geo_.out.begin(), geo_.out.end());
    ctx.set_output(0, ctx.dtype(0), out);
    if (ctx.num_outputs() > 1 && ctx.has_output(1)) ctx.set_output(1, DType::Int64, out);
  }

 private:
  friend RealKernel;
  template <typename T>
  void run_as(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const {
    const Real<T> xr(*in[0]);
    const T* x = xr.p;
    const auto g = as_3d(geo_);
    const auto& xd = in[0]->dims();
    const int64_t NC = xd[0] * xd[1];
    const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2];
    const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
    Tensor y(Real<T>::kind(), out[0]->dims());
    T* py = y.mutable_data_as<T>();
    int64_t* pi = out.size() > 1 && out[1] ? out[1]->mutable_data_as<int64_t>() : nullptr;
    const int64_t isz = ID * IH * IW;
    const int64_t window = g.kernel[0] * g.kernel[1] * g.kernel[2];
    for (int64_t nc = 0; nc < NC; ++nc)
      for (int64_t od = 0; od < OD; ++od)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            // A window of padding only (dilated windows can be) gives the
            // lowest float, as in ONNX Runtime and oneDNN.
            double acc = max_ ? std::numeric_limits<float>::lowest() : 0.0;
            int64_t best = -1, valid = 0, in_window = 0;
            for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
              for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
                for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                  const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
                  const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
                  const int64_t iw = ow * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
                  // Window positions inside input + pads count for count_include_pad.
                  if (id < ID + g.pad_end[0] && ih < IH + g.pad_end[1] && iw < IW + g.pad_end[2]) ++in_window;
                  if (id < 0 || id >= ID || ih < 0 || ih >= IH || iw < 0 || iw >= IW) continue;
                  const int64_t off = (id * IH + ih) * IW + iw;
                  const T v = x[nc * isz + off];
                  ++valid;
                  if (max_) {
                    if (v > acc || best < 0) {
                      acc = v;
                      best = storage_order_ == 0 ? off : (iw * IH + ih) * ID + id;
                    }
                  } else {
                    acc += v;
                  }
                }
            const int64_t o = ((nc * OD + od) * OH + oh) * OW + ow;
            if (max_) {
              py[o] = static_cast<T>(acc);
              if (pi) pi[o] = nc * isz + best;
            } else {
              // count_include_pad divides by the window's positions inside input
              // + pads; without ceil_mode by the whole window, as ONNX Runtime
              // does when the window is larger than the padded input.
              const int64_t div = count_include_pad_ ? (ceil_ ? in_window : window) : valid;
              py[o] = static_cast<T>(div ? acc / static_cast<double>(div) : 0.0);
            }
          }
    if (dtype_is_float(in[0]->dtype())) {
      store_real(y, out[0]);
    } else {  // integer MaxPool (opset 12+)
      cast_into(y, out[0]);
    }
  }

  PoolOp op_;
  bool global_ = false, max_ = false, count_include_pad_ = false, ceil_ = false;
  int64_t storage_order_ = 0;
  WindowGeometry geo_;
};

class Lrn : public RealKernel<Lrn> {
 public:
  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)), "{} data is not supported", dtype_name(ctx.dtype(0)));
    const Node& n = ctx.node();
    size_ = n.attr_int("size");
    alpha_ = n.attr_float("alpha");
    beta_ = n.attr_float("beta");
    bias_ = n.attr_float("bias");
    BNFOLD_NODE_CHECK(ctx, ctx.dims(0).size() >= 2 && size_ > 0, "needs rank >= 2 and size > 0");
    ctx.set_output(0, ctx.dtype(0), ctx.dims(0));
  }

 private:
  friend RealKernel;
  template <typename T>
  void run_as(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const {
    const Real<T> xr(*in[0]);
    const T* x = xr.p;
    const auto& d = in[0]->dims();
    const int64_t N = d[0], C = d[1], S = product(d, 2);
    Tensor y(Real<T>::kind(), d);
    T* py = y.mutable_data_as<T>();
    const int64_t lo = (size_ - 1) / 2, hi = size_ - 1 - lo;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t s = 0; s < S; ++s) {
          double sq = 0;
          for (int64_t k = std::max<int64_t>(0, c - lo); k <= std::min(C - 1, c + hi); ++k) {
            const double v = x[(n * C + k) * S + s];
            sq += v * v;
          }
          const int64_t i = (n * C + c) * S + s;
          py[i] = static_cast<T>(x[i] / std::pow(bias_ + alpha_ / static_cast<double>(size_) * sq, beta_));
        }
    store_real(y, out[0]);
  }

  int64_t size_ = 1;
  double alpha_ = 0, beta_ = 0, bias_ = 0;
};

}  // namespace

std::unique_ptr<OpKernel> make_pool(const Node&, int variant) {
  return std::make_unique<Pool>(static_cast<PoolOp>(variant));
}
std::unique_ptr<OpKernel> make_lrn(const Node&, int) { return std::make_unique<Lrn>(); }

}  // namespace bnfold::ops
