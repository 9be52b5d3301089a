// BatchNormalization (inference: running statistics), Softmax, LogSoftmax,
// reference kernels.
#include <algorithm>
#include <cmath>

#include "bnfold/graph/batchnorm.hpp"
#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

// Per-channel mean and biased variance over every axis but 1.
void batch_moments(const Tensor& x, std::vector<double>* mean, std::vector<double>* var) {
  const auto& d = x.dims();
  const int64_t N = d[0], C = d[1], S = product(d, 2);
  mean->assign(static_cast<size_t>(C), 0.0);
  var->assign(static_cast<size_t>(C), 0.0);
  const double n = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0, sq = 0;
    for (int64_t b = 0; b < N; ++b)
      for (int64_t s = 0; s < S; ++s) sum += x.value_at((b * C + c) * S + s);
    const double m = n > 0 ? sum / n : 0.0;
    for (int64_t b = 0; b < N; ++b)
      for (int64_t s = 0; s < S; ++s) {
        const double v = x.value_at((b * C + c) * S + s) - m;
        sq += v * v;
      }
    (*mean)[static_cast<size_t>(c)] = m;
    (*var)[static_cast<size_t>(c)] = n > 0 ? sq / n : 0.0;
  }
}

namespace {

// Inference (running statistics) or, for a node in training mode, ONNX's
// training semantics: batch statistics (biased variance) normalize the batch,
// and the optional outputs give running * momentum + batch * (1 - momentum).
class BatchNormKernel : public RealKernel<BatchNormKernel> {
 public:
  void infer(InferContext& ctx) override {
    const BatchNormAttrs a = batchnorm_attrs(ctx.node());
    training_ = a.training;
    eps_ = a.epsilon;
    momentum_ = a.momentum;
    spatial_ = a.spatial;
    const auto& x = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, x.size() >= 2, "input rank {} (needs >= 2)", x.size());
    BNFOLD_NODE_CHECK(ctx, spatial_ || !training_, "training with spatial=0 is not supported");
    const int64_t want = spatial_ ? x[1] : product(x, 1);
    for (size_t i = 1; i <= 4; ++i) {
      BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(i)), "input {} is {}", i, dtype_name(ctx.dtype(i)));
      BNFOLD_NODE_CHECK(ctx, product(ctx.dims(i)) == want, "input {} has {} values for {} channels", i,
                        product(ctx.dims(i)), want);
    }
    ctx.set_output(0, ctx.dtype(0), x);
    for (size_t k = 1; k < ctx.num_outputs(); ++k) {
      if (!ctx.has_output(k)) continue;
      BNFOLD_NODE_CHECK(ctx, training_, "output {} is only produced in training mode", k);
      BNFOLD_NODE_CHECK(ctx, k <= 2, "the saved_mean/saved_var outputs of old opsets are not supported");
      ctx.set_output(k, ctx.dtype(k + 2), ctx.dims(k + 2));
    }
  }

 private:
  friend RealKernel;
  template <typename T>
  void run_as(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const {
    const auto& d = in[0]->dims();
    const int64_t N = d[0], C = d[1], S = product(d, 2);
    const Real<T> x(*in[0]);
    const T* px = x.p;
    std::vector<double> mean, var;
    if (training_) batch_moments(x.held, &mean, &var);
    Tensor y(Real<T>::kind(), d);
    T* py = y.mutable_data_as<T>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t s = 0; s < S; ++s) {
          const int64_t p = spatial_ ? c : c * S + s;  // spatial=0: statistics per activation
          const double m = training_ ? mean[static_cast<size_t>(c)] : in[3]->value_at(p);
          const double v = training_ ? var[static_cast<size_t>(c)] : in[4]->value_at(p);
          const double scale = in[1]->value_at(p) / std::sqrt(v + eps_);
          const int64_t i = (n * C + c) * S + s;
          py[i] = static_cast<T>((px[i] - m) * scale + in[2]->value_at(p));
        }
    store_real(y, out[0]);
    for (size_t k = 1; k <= 2 && k < out.size(); ++k) {
      if (!out[k]) continue;
      const std::vector<double>& batch = k == 1 ? mean : var;
      Tensor r(DType::Float64, out[k]->dims());
      for (int64_t c = 0; c < C; ++c)
        r.mutable_data_as<double>()[c] =
            in[k + 2]->value_at(c) * momentum_ + batch[static_cast<size_t>(c)] * (1 - momentum_);
      cast_into(r, out[k]);
    }
  }

  double eps_ = 1e-5, momentum_ = 0.9;
  bool spatial_ = true, training_ = false;
};

class Softmax : public RealKernel<Softmax> {
 public:
  explicit Softmax(bool log) : log_(log) {}

  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)), "{} data is not supported", dtype_name(ctx.dtype(0)));
    const auto& d = ctx.dims(0);
    const int64_t axis = normalize_axis(ctx, ctx.node().attr_int("axis"), d.size());
    if (ctx.opset() < 13) {  // the input is coerced to 2-D at axis
      outer_ = product(d, 0, static_cast<size_t>(axis));
      n_ = product(d, static_cast<size_t>(axis));
      inner_ = 1;
    } else {
      outer_ = product(d, 0, static_cast<size_t>(axis));
      n_ = d.empty() ? 1 : d[static_cast<size_t>(axis)];
      inner_ = product(d, static_cast<size_t>(axis) + 1);
    }
    ctx.set_output(0, ctx.dtype(0), d);
  }

 private:
  friend RealKernel;
  template <typename T>
  void run_as(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const {
    const Real<T> x(*in[0]);
    const T* px = x.p;
    Tensor y(Real<T>::kind(), in[0]->dims());
    T* py = y.mutable_data_as<T>();
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t i = 0; i < inner_; ++i) {
        const T* xs = px + o * n_ * inner_ + i;
        T* ys = py + o * n_ * inner_ + i;
        double mx = -INFINITY;
        for (int64_t k = 0; k < n_; ++k) mx = std::max<double>(mx, xs[k * inner_]);
        double sum = 0;
        for (int64_t k = 0; k < n_; ++k) sum += std::exp(xs[k * inner_] - mx);
        for (int64_t k = 0; k < n_; ++k) {
          const double z = xs[k * inner_] - mx;
          ys[k * inner_] = static_cast<T>(log_ ? z - std::log(sum) : std::exp(z) / sum);
        }
      }
    store_real(y, out[0]);
  }

  bool log_;
  int64_t outer_ = 1, n_ = 1, inner_ = 1;
};

}  // namespace

std::unique_ptr<OpKernel> make_batchnorm(const Node&, int) { return std::make_unique<BatchNormKernel>(); }
std::unique_ptr<OpKernel> make_softmax(const Node&, int variant) {
  return std::make_unique<Softmax>(static_cast<SoftmaxOp>(variant) == SoftmaxOp::LogSoftmax);
}

}  // namespace bnfold::ops
