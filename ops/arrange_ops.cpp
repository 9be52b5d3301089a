// Ops that build or rearrange whole tensors, reference kernels: Range, Tile,
// Trilu, EyeLike, CastLike, DepthToSpace, SpaceToDepth; and
// LayerNormalization and InstanceNormalization.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {


// Range(start, limit, delta): the values are needed when the plan is built
// (the output's length depends on them); a graph input makes the session
// plan per value, as for Reshape's shape.
class Range : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    BNFOLD_NODE_CHECK(ctx, t != DType::Bool && t != DType::String, "Range of {} values", dtype_name(t));
    for (size_t i = 1; i < 3; ++i)
      BNFOLD_NODE_CHECK(ctx, ctx.dtype(i) == t, "input {} is {}, start is {}", i, dtype_name(ctx.dtype(i)), dtype_name(t));
    for (size_t i = 0; i < 3; ++i)
      BNFOLD_NODE_CHECK(ctx, ctx.constant(i, "a scalar").numel() == 1, "input {} holds {} values, not 1", i,
                        ctx.constant(i, "a scalar").numel());
    const double start = ctx.constant(0, "start").value_at(0), limit = ctx.constant(1, "limit").value_at(0);
    const double delta = ctx.constant(2, "delta").value_at(0);
    BNFOLD_NODE_CHECK(ctx, delta != 0 && std::isfinite(delta), "delta {} cannot step", delta);
    const double n = std::ceil((limit - start) / delta);
    BNFOLD_NODE_CHECK(ctx, std::isfinite(n) && n < 1e12, "a range of {} values", n);
    const auto count = static_cast<int64_t>(std::max(0.0, n));
    Tensor out(t, {count});
    dispatch_numeric(t, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, bool>) {
        T* p = out.mutable_data_as<T>();
        const auto s = ctx.constant(0, "start").data_as<T>()[0], d = ctx.constant(2, "delta").data_as<T>()[0];
        T v = s;  // as the spec: start + i * delta accumulated in T (integers wrap, never trap)
        for (int64_t i = 0; i < count; ++i, v = wrapping(v, d, [](auto a, auto b) { return a + b; })) p[i] = v;
      }
    });
    ctx.set_output(0, t, {count});
    ctx.set_output_value(0, std::move(out));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {}
};

class Tile : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    const std::vector<int64_t> reps = ctx.constant_ints(1, "repeats");
    BNFOLD_NODE_CHECK(ctx, reps.size() == d.size(), "{} repeats for rank {}", reps.size(), d.size());
    std::vector<int64_t> out(d.size());
    for (size_t k = 0; k < d.size(); ++k) {
      BNFOLD_NODE_CHECK(ctx, reps[k] >= 0, "repeat {} is negative", reps[k]);
      out[k] = checked_mul(d[k], reps[k]);
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& d = in[0]->dims();
    const auto& od = out[0]->dims();
    const auto is = strides_of(d), os = strides_of(od);
    const size_t es = dtype_size(in[0]->dtype());
    for (int64_t i = 0; i < out[0]->numel(); ++i) {
      int64_t rest = i, off = 0;
      for (size_t k = 0; k < od.size(); ++k) {
        off += (rest / os[k]) % d[k] * is[k];
        rest %= os[k];
      }
      std::memcpy(bytes(out[0]) + i * static_cast<int64_t>(es), bytes(*in[0]) + off * static_cast<int64_t>(es), es);
    }
  }
};

// Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two axes.
class Trilu : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, ctx.dims(0).size() >= 2, "needs rank >= 2, not {}", ctx.dims(0).size());
    if (ctx.has_input(1)) {
      const std::vector<int64_t> k = ctx.constant_ints(1, "k");
      BNFOLD_NODE_CHECK(ctx, k.size() == 1, "k holds {} values, not 1", k.size());
      k_ = k[0];
    }
    upper_ = ctx.node().attr_int("upper") != 0;
    ctx.set_output(0, ctx.dtype(0), ctx.dims(0));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& d = in[0]->dims();
    const int64_t rows = d[d.size() - 2], cols = d.back();
    const size_t es = dtype_size(in[0]->dtype());
    std::memset(bytes(out[0]), 0, out[0]->nbytes());
    for (int64_t b = 0; b < product(d, 0, d.size() - 2); ++b)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
          if (upper_ ? j - i >= k_ : j - i <= k_) {
            const int64_t at = (b * rows + i) * cols + j;
            std::memcpy(bytes(out[0]) + at * static_cast<int64_t>(es), bytes(*in[0]) + at * static_cast<int64_t>(es), es);
          }
  }

 private:
  int64_t k_ = 0;
  bool upper_ = true;
};

class EyeLike : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, ctx.dims(0).size() == 2, "takes a 2-D input, not rank {}", ctx.dims(0).size());
    const auto dtype = ctx.node().find_attr("dtype");
    BNFOLD_NODE_CHECK(ctx, !dtype || dtype_is_known(static_cast<int32_t>(dtype->i)), "unknown dtype {}", dtype->i);
    const DType t = dtype ? static_cast<DType>(dtype->i) : ctx.dtype(0);
    BNFOLD_NODE_CHECK(ctx, t != DType::String && t != DType::Complex64 && t != DType::Complex128,
                      "EyeLike of {} is not supported", dtype_name(t));
    k_ = ctx.node().attr_int("k");
    ctx.set_output(0, t, ctx.dims(0));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>& out) const override {
    const auto& d = out[0]->dims();
    Tensor f(DType::Float64, d);
    auto* p = f.mutable_data_as<double>();
    for (int64_t i = 0; i < d[0]; ++i)
      for (int64_t j = 0; j < d[1]; ++j) p[i * d[1] + j] = j - i == k_ ? 1.0 : 0.0;
    cast_into(f, out[0]);
  }

 private:
  int64_t k_ = 0;
};

// CastLike: Cast to the dtype of input 1.
class CastLike : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const DType t = ctx.dtype(1);
    BNFOLD_NODE_CHECK(ctx, t != DType::String && ctx.dtype(0) != DType::String,
                      "casts to or from strings are not supported");
    ctx.set_output(0, t, ctx.dims(0));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    cast_into(*in[0], out[0]);
  }
};

// DepthToSpace (DCR or CRD) and SpaceToDepth: [N, C, H, W] with a block size b.
class DepthSpace : public OpKernel {
 public:
  explicit DepthSpace(bool to_space) : to_space_(to_space) {}
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, d.size() == 4, "takes [N, C, H, W], not rank {}", d.size());
    b_ = ctx.node().attr_int("blocksize");
    BNFOLD_NODE_CHECK(ctx, b_ >= 1 && b_ <= 4096, "blocksize {} is not in [1, 4096]", b_);
    if (to_space_) {
      crd_ = ctx.node().attr_string("mode") == "CRD";
      BNFOLD_NODE_CHECK(ctx, d[1] % (b_ * b_) == 0, "{} channels do not divide by blocksize^2 = {}", d[1], b_ * b_);
      ctx.set_output(0, ctx.dtype(0), {d[0], d[1] / (b_ * b_), d[2] * b_, d[3] * b_});
    } else {
      BNFOLD_NODE_CHECK(ctx, d[2] % b_ == 0 && d[3] % b_ == 0, "{}x{} does not divide by blocksize {}", d[2], d[3], b_);
      ctx.set_output(0, ctx.dtype(0), {d[0], d[1] * b_ * b_, d[2] / b_, d[3] / b_});
    }
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    // Walk the space side [N, C', H*b, W*b]; the depth side is [N, C' * b * b, H, W].
    const auto& s = to_space_ ? out[0]->dims() : in[0]->dims();
    const int64_t N = s[0], C = s[1] / (to_space_ ? 1 : b_ * b_), H = s[2] / (to_space_ ? b_ : 1) / (to_space_ ? 1 : b_);
    const int64_t W = s[3] / b_;
    const int64_t Cs = to_space_ ? s[1] : s[1], Hs = s[2], Ws = s[3];
    (void)C;
    const size_t es = dtype_size(in[0]->dtype());
    const int64_t Cd = Cs * b_ * b_;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < Cs; ++c)
        for (int64_t y = 0; y < Hs; ++y)
          for (int64_t x = 0; x < Ws; ++x) {
            const int64_t by = y % b_, bx = x % b_;
            const int64_t cd = to_space_ && crd_ ? (c * b_ + by) * b_ + bx : (by * b_ + bx) * Cs + c;
            const int64_t space = ((n * Cs + c) * Hs + y) * Ws + x;
            const int64_t depth = ((n * Cd + cd) * H + y / b_) * W + x / b_;
            const int64_t from = to_space_ ? depth : space, to = to_space_ ? space : depth;
            std::memcpy(bytes(out[0]) + to * static_cast<int64_t>(es), bytes(*in[0]) + from * static_cast<int64_t>(es), es);
          }
  }

 private:
  bool to_space_, crd_ = false;
  int64_t b_ = 1;
};

// LayerNormalization (opset 17): normalized over the axes from `axis` on,
// scaled and shifted by inputs 1 and 2 (broadcast to those axes); outputs 1
// and 2 (mean, inverse std) when asked for.
class LayerNorm : public RealKernel<LayerNorm> {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    axis_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), d.size()));
    eps_ = ctx.node().attr_float("epsilon");
    const int64_t inner = product(d, axis_);
    BNFOLD_NODE_CHECK(ctx, product(ctx.dims(1)) == inner && (!ctx.has_input(2) || product(ctx.dims(2)) == inner),
                      "scale and bias must cover the normalized axes ({} values)", inner);
    ctx.set_output(0, ctx.dtype(0), d);
    std::vector<int64_t> stat = d;
    for (size_t k = axis_; k < stat.size(); ++k) stat[k] = 1;
    for (size_t k = 1; k < 3; ++k)
      if (ctx.has_output(k)) ctx.set_output(k, DType::Float32, stat);
  }

 private:
  friend RealKernel;
  template <typename T>
  void run_as(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const {
    const auto& d = in[0]->dims();
    const int64_t outer = product(d, 0, axis_), inner = product(d, axis_);
    const Real<T> x(*in[0]), scale(*in[1]);
    const bool has_bias = in.size() > 2 && in[2];
    const Real<T> bias(has_bias ? *in[2] : *in[1]);  // read only with has_bias
    Tensor y(Real<T>::kind(), d), mean(DType::Float32, {outer}), inv(DType::Float32, {outer});
    for (int64_t o = 0; o < outer; ++o) {
      double m = 0, v = 0;
      for (int64_t i = 0; i < inner; ++i) m += x.p[o * inner + i];
      m /= static_cast<double>(inner);
      for (int64_t i = 0; i < inner; ++i) v += (x.p[o * inner + i] - m) * (x.p[o * inner + i] - m);
      v /= static_cast<double>(inner);
      const double r = 1.0 / std::sqrt(v + eps_);
      mean.mutable_data_as<float>()[o] = static_cast<float>(m);
      inv.mutable_data_as<float>()[o] = static_cast<float>(r);
      for (int64_t i = 0; i < inner; ++i)
        y.mutable_data_as<T>()[o * inner + i] = static_cast<T>(
            (x.p[o * inner + i] - m) * r * scale.p[i] + (has_bias ? bias.p[i] : T(0)));
    }
    store_real(y, out[0]);
    if (out.size() > 1 && out[1]) copy_bytes(mean, out[1]);
    if (out.size() > 2 && out[2]) copy_bytes(inv, out[2]);
  }
  size_t axis_ = 0;
  double eps_ = 1e-5;
};

// InstanceNormalization: each sample's channel normalized over its spatial values.
class InstanceNorm : public RealKernel<InstanceNorm> {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, d.size() >= 3, "takes [N, C, D1, ...], not rank {}", d.size());
    BNFOLD_NODE_CHECK(ctx, product(ctx.dims(1)) == d[1] && product(ctx.dims(2)) == d[1],
                      "scale and B must have one value per channel ({})", d[1]);
    eps_ = ctx.node().attr_float("epsilon");
    ctx.set_output(0, ctx.dtype(0), d);
  }

 private:
  friend RealKernel;
  template <typename T>
  void run_as(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const {
    const auto& d = in[0]->dims();
    const int64_t N = d[0], C = d[1], S = product(d, 2);
    const Real<T> x(*in[0]), scale(*in[1]), b(*in[2]);
    Tensor y(Real<T>::kind(), d);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        const T* p = x.p + (n * C + c) * S;
        double m = 0, v = 0;
        for (int64_t s = 0; s < S; ++s) m += p[s];
        m /= static_cast<double>(S);
        for (int64_t s = 0; s < S; ++s) v += (p[s] - m) * (p[s] - m);
        v /= static_cast<double>(S);
        const double r = 1.0 / std::sqrt(v + eps_);
        for (int64_t s = 0; s < S; ++s)
          y.mutable_data_as<T>()[(n * C + c) * S + s] = static_cast<T>((p[s] - m) * r * scale.p[c] + b.p[c]);
      }
    store_real(y, out[0]);
  }
  double eps_ = 1e-5;
};

}  // namespace

std::unique_ptr<OpKernel> make_range(const Node&, int) { return std::make_unique<Range>(); }
std::unique_ptr<OpKernel> make_tile(const Node&, int) { return std::make_unique<Tile>(); }
std::unique_ptr<OpKernel> make_trilu(const Node&, int) { return std::make_unique<Trilu>(); }
std::unique_ptr<OpKernel> make_eye_like(const Node&, int) { return std::make_unique<EyeLike>(); }
std::unique_ptr<OpKernel> make_cast_like(const Node&, int) { return std::make_unique<CastLike>(); }
std::unique_ptr<OpKernel> make_depth_space(const Node&, int variant) { return std::make_unique<DepthSpace>(variant == 0); }
std::unique_ptr<OpKernel> make_layer_norm(const Node&, int) { return std::make_unique<LayerNorm>(); }
std::unique_ptr<OpKernel> make_instance_norm(const Node&, int) { return std::make_unique<InstanceNorm>(); }

}  // namespace bnfold::ops
