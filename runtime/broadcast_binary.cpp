// Add, Sub, Mul, Div where the second operand repeats over dims that are not
// leading ones, which oneDNN 2.6's jit binary does not take (it answers with
// its reference kernel, ref:any): Swin's shifted-window attention adds a
// [1, windows, 1, 49, 49] mask to [N, windows, heads, 49, 49] scores, 157 ms
// of swin_t's 720 at batch 8 on ref:any. Here: plain row-major tensors, the
// output walked in runs over which the operand is contiguous or one value.
#include <omp.h>

#include <algorithm>

#include "ops/op_util.hpp"
#include "runtime/dnnl/dnnl_builders.hpp"

namespace bnfold::rt {

namespace {

class BroadcastBinaryStep : public Step {
 public:
  BinaryOp op = BinaryOp::Add;
  bool swapped = false;         // the operand is the node's first input (k op x)
  std::vector<int64_t> outer;   // output dims before the run
  std::vector<int64_t> strides; // the operand's stride per outer dim (0 where it repeats)
  int64_t run_len = 1;          // elements per run
  bool scalar_run = false;      // the operand is one value over each run
  int threads = 0;

  StepKind kind() const override { return StepKind::Native; }
  std::string describe() const override { return node->op_type() + " (bnfold)"; }
  std::string implementation() const override { return "bnfold:simd"; }

  void run_step(const float* x, const float* k, float* y) const {
    int64_t rows = 1;
    for (int64_t d : outer) rows *= d;
    const int threads = this->threads > 0 ? this->threads : std::max(1, omp_get_max_threads());
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * run_len > 32768)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t rest = r, at = 0;
      for (size_t d = outer.size(); d-- > 0;) {
        at += (rest % outer[d]) * strides[d];
        rest /= outer[d];
      }
      const float* a = x + r * run_len;
      const float* b = k + at;
      float* o = y + r * run_len;
      if (scalar_run) apply(a, b, 0, o);
      else apply(a, b, 1, o);
    }
  }

  void run(RunState& state) const override {
    run_step(static_cast<const float*>(state.ptr[static_cast<size_t>(in[0])]),
             static_cast<const float*>(state.ptr[static_cast<size_t>(in[1])]),
             static_cast<float*>(state.ptr[static_cast<size_t>(out[0])]));
  }

 private:
  // o[i] = a[i] op b[i * step] (b op a when swapped); the compiler vectorizes each case.
  void apply(const float* a, const float* b, int64_t step, float* o) const {
    const int64_t n = run_len;
    switch (op) {
      case BinaryOp::Add: for (int64_t i = 0; i < n; ++i) o[i] = a[i] + b[i * step]; break;
      case BinaryOp::Mul: for (int64_t i = 0; i < n; ++i) o[i] = a[i] * b[i * step]; break;
      case BinaryOp::Sub:
        if (swapped) for (int64_t i = 0; i < n; ++i) o[i] = b[i * step] - a[i];
        else for (int64_t i = 0; i < n; ++i) o[i] = a[i] - b[i * step];
        break;
      default:  // Div
        if (swapped) for (int64_t i = 0; i < n; ++i) o[i] = b[i * step] / a[i];
        else for (int64_t i = 0; i < n; ++i) o[i] = a[i] / b[i * step];
        break;
    }
  }
};

}  // namespace

bool build_broadcast_binary(PlanBuilder& b, const Node& n, BinaryOp op, size_t full, const InferContext& ctx) {
  if (op != BinaryOp::Add && op != BinaryOp::Sub && op != BinaryOp::Mul && op != BinaryOp::Div) return false;
  const auto& out = ctx.outputs()[0].dims;
  const size_t other = 1 - full;
  if (ctx.outputs()[0].dtype != DType::Float32 || ctx.dtype(0) != DType::Float32 || ctx.dtype(1) != DType::Float32 ||
      ctx.dims(full) != out || product(out) == 0)
    return false;
  const std::vector<int64_t> dk = with_rank(ctx.dims(other), out.size());
  // The run: the longest suffix over which the operand is all of the output's
  // dims (contiguous) or all ones (one value).
  size_t cut = out.size();
  const bool ones = dk.back() == 1 && out.back() != 1;
  while (cut > 0 && (ones ? dk[cut - 1] == 1 : dk[cut - 1] == out[cut - 1])) --cut;
  auto step = std::make_unique<BroadcastBinaryStep>();
  step->op = op;
  step->swapped = full == 1;
  step->scalar_run = ones;
  step->run_len = product(out, cut, out.size());
  step->outer.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(cut));
  int64_t stride = ones ? 1 : step->run_len;
  step->strides.assign(cut, 0);
  for (size_t d = cut; d-- > 0;) {
    if (dk[d] != 1) step->strides[d] = stride;
    stride *= dk[d];
  }
  const int s0 = b.in_layout(input_slot(b, n, full), plain_md(out));
  const int s1 = b.in_layout(input_slot(b, n, other), plain_md(ctx.dims(other)));
  const dnnl::memory::desc md = plain_md(out);
  const int dst = b.define(n.output(0), DType::Float32, out, &md);
  step->node = &n;
  step->in = {s0, s1};
  step->out = {dst};
  step->threads = b.options().threads;
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
