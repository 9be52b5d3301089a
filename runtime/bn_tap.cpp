// A step that measures a BatchNormalization input's per-channel moments where
// it lies: in the layout its producer left (plain NCHW, channels-last, or
// oneDNN's channel-blocked nChw8c/16c), on all threads, in double, without a
// reorder; the BN itself then runs as in inference. This is how drift and
// recalibration collect statistics at nearly inference speed.
//
// Each value is shifted by the channel's running mean before it is summed
// (the "shifted data" algorithm), so sum of squares minus squared sum loses
// nothing for data near what the BN learned. Threads own fixed chunks and are
// merged in thread order: the same thread count gives the same bits. A
// session of one thread measures on the caller's thread alone.
#include <omp.h>

// `omp simd` asks for vectorization; clang with sanitizers may decline and
// warns (an error under -Werror). Declining is correct there, not a bug.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

#include <algorithm>
#include <cmath>

#include "bnfold/graph/batchnorm.hpp"
#include "runtime/dnnl/dnnl_util.hpp"
#include "runtime/layout_geometry.hpp"
#include "runtime/plan_builder.hpp"

namespace bnfold::rt {

namespace {

class BnTapStep : public Step {
 public:
  std::string name;
  Geometry g;
  std::vector<double> shift;  // per channel: the running mean
  int threads = 0;            // the session's (0: OpenMP's default)
  // A folded BN's output measured: x = (y - beta) / s + mean maps it back
  // (empty for a BN input measured as is).
  std::vector<double> scale, beta, mean;

  StepKind kind() const override { return StepKind::Statistics; }
  std::string describe() const override { return "statistics of the BatchNormalization input (in place)"; }

  void run(RunState& state) const override {
    if (!state.bn_hook || !*state.bn_hook) return;
    const float* x = static_cast<const float*>(state.ptr[static_cast<size_t>(in[0])]);
    const auto C = static_cast<size_t>(g.C);
    // The session's thread count: a session of one thread stays on its caller's thread.
    const int threads = this->threads > 0 ? this->threads : std::max(1, omp_get_max_threads());
    std::vector<double> sums(static_cast<size_t>(threads) * 2 * C, 0.0);
    const int64_t blocks = (g.C + g.block - 1) / g.block;
    const int64_t units = g.N * blocks;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      const int t = omp_get_thread_num();
      double* s = sums.data() + static_cast<size_t>(t) * 2 * C;
      double* q = s + C;
#pragma omp for schedule(static)
      for (int64_t u = 0; u < units; ++u) {
        const int64_t n = u / blocks, cb = u % blocks;
        const int64_t c0 = cb * g.block, lanes = std::min(g.block, g.C - c0);
        const float* base = x + n * g.n_stride + cb * g.block_stride;
        if (g.block == 1) {
          const double k = shift[static_cast<size_t>(c0)];
          double a = 0, b2 = 0;
#pragma omp simd reduction(+ : a, b2)
          for (int64_t p = 0; p < g.S; ++p) {
            const double v = static_cast<double>(base[p]) - k;
            a += v;
            b2 += v * v;
          }
          s[c0] += a;
          q[c0] += b2;
        } else {
          // Lanes are independent accumulators: this loop vectorizes as written.
          double a[64], b2[64];
          const double* k = shift.data() + c0;
          for (int64_t j0 = 0; j0 < lanes; j0 += 64) {
            const int64_t m = std::min<int64_t>(64, lanes - j0);
            std::fill(a, a + m, 0.0);
            std::fill(b2, b2 + m, 0.0);
            for (int64_t p = 0; p < g.S; ++p) {
              const float* row = base + p * g.p_stride + j0;
#pragma omp simd
              for (int64_t j = 0; j < m; ++j) {
                const double v = static_cast<double>(row[j]) - k[j0 + j];
                a[j] += v;
                b2[j] += v * v;
              }
            }
            for (int64_t j = 0; j < m; ++j) {
              s[c0 + j0 + j] += a[j];
              q[c0 + j0 + j] += b2[j];
            }
          }
        }
      }
    }
    BnStats st;
    st.bn = name;
    st.count = g.N * g.S;
    st.mean.assign(C, 0.0);
    st.var.assign(C, 0.0);
    const double n = static_cast<double>(st.count);
    for (size_t c = 0; c < C; ++c) {
      double a = 0, b2 = 0;
      for (int t = 0; t < threads; ++t) {
        a += sums[static_cast<size_t>(t) * 2 * C + c];
        b2 += sums[static_cast<size_t>(t) * 2 * C + C + c];
      }
      st.mean[c] = shift[c] + a / n;
      st.var[c] = std::max(0.0, b2 / n - (a / n) * (a / n));
      if (!scale.empty()) {
        st.mean[c] = (st.mean[c] - beta[c]) / scale[c] + mean[c];
        st.var[c] /= scale[c] * scale[c];
      }
    }
    (*state.bn_hook)(st);
  }
};

}  // namespace

bool build_folded_tap(PlanBuilder& b, const FoldedBn& f, int s) {
  const Slot& x = b.slot(s);
  if (x.dtype != DType::Float32 || x.dims.size() < 2 || x.dims[1] != f.channels()) return false;
  auto step = std::make_unique<BnTapStep>();
  if (!describe_layout(b.layout(s), x.dims, &step->g)) {
    s = b.in_layout(s, plain_md(b.slot(s).dims));  // a layout it cannot read: a plain copy
    if (!describe_layout(b.layout(s), b.slot(s).dims, &step->g)) return false;
  }
  step->name = f.bn;
  step->threads = b.options().threads;
  step->in = {s};
  for (int64_t c = 0; c < f.channels(); ++c) {
    const auto k = static_cast<size_t>(c);
    if (!f.output) {
      step->shift.push_back(f.mean[k]);
      continue;
    }
    step->shift.push_back(f.beta[k]);  // y's mean when x has the running mean
    step->scale.push_back(static_cast<double>(f.gamma[k]) / std::sqrt(static_cast<double>(f.var[k]) + f.epsilon));
    step->beta.push_back(f.beta[k]);
    step->mean.push_back(f.mean[k]);
  }
  b.add_step(std::move(step));
  return true;
}

bool build_bn_tap(PlanBuilder& b, const Node& n, const std::vector<int>& in) {
  if (in.empty() || in[0] < 0 || n.inputs().size() < 5) return false;
  const Slot& x = b.slot(in[0]);
  if (x.dtype != DType::Float32 || x.dims.size() < 2) return false;
  auto step = std::make_unique<BnTapStep>();
  if (!describe_layout(b.layout(in[0]), x.dims, &step->g)) return false;
  step->node = &n;
  step->name = node_name(n);
  step->threads = b.options().threads;
  step->in = {in[0]};
  step->shift.assign(static_cast<size_t>(x.dims[1]), 0.0);
  const Value* mean = n.input(3);
  if (mean && mean->is_constant() && mean->data().numel() == x.dims[1])
    for (int64_t c = 0; c < x.dims[1]; ++c) {
      const double v = mean->data().value_at(c);
      step->shift[static_cast<size_t>(c)] = std::isfinite(v) ? v : 0.0;
    }
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
