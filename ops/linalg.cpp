// Gemm and MatMul, reference kernels. Float types compute in double; integer
// MatMul (int32/int64 etc.) in int64.
#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

// Element i of any numeric tensor as double (float32 fast path).
struct Reader {
  explicit Reader(const Tensor& t) : t(t), f(t.dtype() == DType::Float32 ? t.data_as<float>() : nullptr) {}
  double operator[](int64_t i) const { return f ? f[i] : t.value_at(i); }
  const Tensor& t;
  const float* f;
};

void store(const std::vector<double>& v, Tensor* out) {
  Tensor f(DType::Float64, out->dims());
  std::copy(v.begin(), v.end(), f.mutable_data_as<double>());
  cast_into(f, out);
}

class Gemm : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    alpha_ = n.attr_float("alpha");
    beta_ = n.attr_float("beta");
    trans_a_ = n.attr_int("transA") != 0;
    trans_b_ = n.attr_int("transB") != 0;
    const auto& a = ctx.dims(0);
    const auto& b = ctx.dims(1);
    BNFOLD_NODE_CHECK(ctx, a.size() == 2 && b.size() == 2, "A {} and B {} must be 2-D", Shape::of(a).str(),
                      Shape::of(b).str());
    const int64_t M = trans_a_ ? a[1] : a[0], K = trans_a_ ? a[0] : a[1];
    const int64_t Kb = trans_b_ ? b[1] : b[0], N = trans_b_ ? b[0] : b[1];
    BNFOLD_NODE_CHECK(ctx, K == Kb, "A {} (transA={}) and B {} (transB={}) disagree on K", Shape::of(a).str(),
                      trans_a_, Shape::of(b).str(), trans_b_);
    if (ctx.has_input(2)) broadcast_dims(ctx, {M, N}, ctx.dims(2));  // C must broadcast to M x N
    ctx.set_output(0, ctx.dtype(0), {M, N});
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const Reader a(*in[0]), b(*in[1]);
    const auto& ad = in[0]->dims();
    const auto& bd = in[1]->dims();
    const int64_t M = out[0]->dims()[0], N = out[0]->dims()[1], K = trans_a_ ? ad[0] : ad[1];
    std::vector<double> y(static_cast<size_t>(M * N), 0.0);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) {
        const double av = a[trans_a_ ? k * ad[1] + m : m * ad[1] + k];
        for (int64_t j = 0; j < N; ++j) y[static_cast<size_t>(m * N + j)] += av * b[trans_b_ ? j * bd[1] + k : k * bd[1] + j];
      }
    const bool has_c = in.size() > 2 && in[2];
    const BroadcastWalker wc(out[0]->dims(), has_c ? in[2]->dims() : std::vector<int64_t>{});
    for (int64_t i = 0; i < M * N; ++i) {
      double v = alpha_ * y[static_cast<size_t>(i)];
      if (has_c) v += beta_ * in[2]->value_at(wc.identity() ? i : wc.offsets()[static_cast<size_t>(i)]);
      y[static_cast<size_t>(i)] = v;
    }
    store(y, out[0]);
  }

 private:
  double alpha_ = 1, beta_ = 1;
  bool trans_a_ = false, trans_b_ = false;
};

class MatMul : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    std::vector<int64_t> a = ctx.dims(0), b = ctx.dims(1);
    BNFOLD_NODE_CHECK(ctx, !a.empty() && !b.empty(), "MatMul needs inputs of rank >= 1");
    const bool a1 = a.size() == 1, b1 = b.size() == 1;
    if (a1) a.insert(a.begin(), 1);
    if (b1) b.push_back(1);
    BNFOLD_NODE_CHECK(ctx, a.back() == b[b.size() - 2], "A {} and B {} disagree on K",
                      Shape::of(ctx.dims(0)).str(), Shape::of(ctx.dims(1)).str());
    M_ = a[a.size() - 2];
    K_ = a.back();
    N_ = b.back();
    const std::vector<int64_t> ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    batch_ = broadcast_dims(ctx, ab, bb);
    a_batch_ = ab;
    b_batch_ = bb;
    std::vector<int64_t> out = batch_;
    if (!a1) out.push_back(M_);
    if (!b1) out.push_back(N_);
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const Reader a(*in[0]), b(*in[1]);
    const BroadcastWalker wa(batch_, a_batch_), wb(batch_, b_batch_);
    const int64_t batches = product(batch_);
    std::vector<double> y(static_cast<size_t>(batches * M_ * N_), 0.0);
    for (int64_t t = 0; t < batches; ++t) {
      const int64_t ao = (wa.identity() ? t : wa.offsets()[static_cast<size_t>(t)]) * M_ * K_;
      const int64_t bo = (wb.identity() ? t : wb.offsets()[static_cast<size_t>(t)]) * K_ * N_;
      double* py = y.data() + t * M_ * N_;
      for (int64_t m = 0; m < M_; ++m)
        for (int64_t k = 0; k < K_; ++k) {
          const double av = a[ao + m * K_ + k];
          for (int64_t j = 0; j < N_; ++j) py[m * N_ + j] += av * b[bo + k * N_ + j];
        }
    }
    store(y, out[0]);
  }

 private:
  int64_t M_ = 0, K_ = 0, N_ = 0;
  std::vector<int64_t> batch_, a_batch_, b_batch_;
};

}  // namespace

std::unique_ptr<OpKernel> make_gemm(const Node&, int) { return std::make_unique<Gemm>(); }
std::unique_ptr<OpKernel> make_matmul(const Node&, int) { return std::make_unique<MatMul>(); }

double gemm_flops(const Node& n, const InferContext& ctx) {
  const auto& a = ctx.dims(0);
  const int64_t k = n.attr_int("transA") ? a[0] : a[1];
  return 2.0 * static_cast<double>(product(ctx.outputs()[0].dims)) * static_cast<double>(k);
}

double matmul_flops(const Node&, const InferContext& ctx) {
  return 2.0 * static_cast<double>(product(ctx.outputs()[0].dims)) * static_cast<double>(ctx.dims(0).back());
}

}  // namespace bnfold::ops
