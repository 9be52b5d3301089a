// A Concat along the channels whose only consumer is a per-channel affine
// (the Mul + Add that fold leaves for a BN it cannot fold: densenet's
// pre-activation BNs after every Concat) and perhaps a ReLU or Clip, computed
// in one pass: each input is read where it lies and written, scaled, shifted
// and clamped, into its box of the output. Done as oneDNN's concat and then a
// binary step, the output is written, read and written again; at densenet121's
// sizes both steps are bound by memory. oneDNN 2.6 has no primitive for it:
// its binary into a box of a larger tensor is ref:any.
#include <omp.h>

// `omp simd` asks for vectorization; clang with sanitizers may decline and
// warns (an error under -Werror). Declining is correct there, not a bug.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "ops/op_util.hpp"
#include "runtime/dnnl/dnnl_builders.hpp"
#include "runtime/layout_geometry.hpp"

namespace bnfold::rt {

namespace {

using Kind = Geometry::Kind;

// y = clamp(x * s + t, lo, hi); a NaN stays NaN (as oneDNN's ReLU and clip keep it).
inline float affine(float x, float s, float t, float lo, float hi) {
  const float v = x * s + t;
  return std::min(std::max(v, lo), hi);
}

// The loops, compiled for AVX-512, AVX2 and the baseline and picked at load
// time by the CPU (the build targets the baseline).
// Not under ThreadSanitizer: the clones' load-time resolver runs before its
// runtime is up and crashes the process (measured: every binary segfaulted).
#if defined(__SANITIZE_THREAD__)
#define BNFOLD_NO_CLONES
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BNFOLD_NO_CLONES
#endif
#endif
#ifdef BNFOLD_NO_CLONES
#define BNFOLD_CLONES
#else
#define BNFOLD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

// y[l] = affine(x[l], s[l], t[l]) for l < m: a run of channels.
BNFOLD_CLONES void channel_run(const float* x, float* y, const float* s, const float* t, int64_t m, float lo,
                               float hi) {
#pragma omp simd
  for (int64_t l = 0; l < m; ++l) y[l] = affine(x[l], s[l], t[l], lo, hi);
}

// A block of `lanes` channels over S pixels (nChw16c: lanes innermost).
BNFOLD_CLONES void block_run(const float* x, float* y, const float* s, const float* t, int64_t S, int64_t lanes,
                             float lo, float hi) {
  for (int64_t q = 0; q < S; ++q, x += lanes, y += lanes) {
#pragma omp simd
    for (int64_t l = 0; l < lanes; ++l) y[l] = affine(x[l], s[l], t[l], lo, hi);
  }
}

// One channel over S pixels (planar).
BNFOLD_CLONES void plane_run(const float* x, float* y, float s, float t, int64_t S, float lo, float hi) {
#pragma omp simd
  for (int64_t q = 0; q < S; ++q) y[q] = affine(x[q], s, t, lo, hi);
}

// The ops after the Concat that become per-channel scale, shift and clamp.
struct Chain {
  std::vector<float> scale, shift;  // per output channel
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  std::vector<const Node*> nodes;
  const Value* result = nullptr;
  std::string what;
};

// Mul/Add/Sub/Div by constants (composed), then at most one ReLU or Clip.
Chain affine_chain(const PlanBuilder& b, const Node& concat, const std::vector<int64_t>& dims) {
  Chain ch;
  const auto C = static_cast<size_t>(dims[1]);
  ch.scale.assign(C, 1.0f);
  ch.shift.assign(C, 0.0f);
  ch.result = concat.output(0);
  for (;;) {
    if (b.tapped(ch.result)) break;  // measured for a folded BN: it must exist as computed
    const Node* c = b.sole_consumer(ch.result);
    if (!c) break;
    dnnl::algorithm alg;
    const Tensor* k = nullptr;
    std::vector<int64_t> kdims;
    if (const auto algs = eltwise_algs(*c, b); algs.size() == 1) {
      const EltwiseAlg& e = algs[0];
      if (e.alg == dnnl::algorithm::eltwise_relu && e.alpha == 0.0f) {
        ch.lo = 0.0f;
      } else if (e.alg == dnnl::algorithm::eltwise_clip_v2) {
        ch.lo = e.alpha;
        ch.hi = e.beta;
      } else {
        break;
      }
      ch.nodes.push_back(c);
      ch.result = c->output(0);
      ch.what += " + " + c->op_type();
      break;  // a clamp ends the chain: an affine after it is no affine of x
    }
    if (!per_channel_constant(b, *c, ch.result, dims, &alg, &k, &kdims)) break;
    const bool per_channel = kdims[1] != 1;
    for (size_t i = 0; i < C; ++i) {
      const auto v = static_cast<float>(k->value_at(per_channel ? static_cast<int64_t>(i) : 0));
      switch (alg) {
        case dnnl::algorithm::binary_mul:
          ch.scale[i] *= v, ch.shift[i] *= v;
          break;
        case dnnl::algorithm::binary_div:
          ch.scale[i] /= v, ch.shift[i] /= v;
          break;
        case dnnl::algorithm::binary_add:
          ch.shift[i] += v;
          break;
        default:
          ch.shift[i] -= v;
          break;  // binary_sub (x - k only)
      }
    }
    ch.nodes.push_back(c);
    ch.result = c->output(0);
    ch.what += " + " + c->op_type();
  }
  return ch;
}

// Whether the kernel reads an input in layout `in` into a box at channel
// `offset` of an output in layout `out`: the same channel blocks, aligned
// and without padding; or anything with channel runs into channels-last; or
// planar into planar.
bool pairs(const Geometry& in, const Geometry& out, int64_t offset) {
  switch (out.kind) {
    case Kind::Blocked:
      return in.kind == Kind::Blocked && in.block == out.block && offset % out.block == 0 && in.C % out.block == 0;
    case Kind::ChannelsLast:
      return in.kind != Kind::Planar;
    case Kind::Planar:
      return in.kind == Kind::Planar;
  }
  return false;
}

class ConcatAffineStep : public Step {
 public:
  struct Part {
    Geometry g;
    int64_t offset;  // first output channel
  };
  std::vector<Part> parts;  // per input, in in[]'s order
  Geometry out_g;
  Chain chain;
  int threads = 0;  // the session's (0: OpenMP's default)

  StepKind kind() const override { return StepKind::Native; }
  std::string describe() const override { return "Concat (bnfold)" + chain.what; }
  std::string implementation() const override { return "bnfold:simd"; }

  void run(RunState& state) const override {
    float* y = static_cast<float*>(state.ptr[static_cast<size_t>(out[0])]);
    const int threads = this->threads > 0 ? this->threads : std::max(1, omp_get_max_threads());
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      if (out_g.kind == Kind::ChannelsLast) {
        rows(state, y);
      } else {
        for (size_t i = 0; i < parts.size(); ++i) copy_part(input(state, i), parts[i], y);
      }
    }
  }

 private:
  const float* input(const RunState& state, size_t i) const {
    return static_cast<const float*>(state.ptr[static_cast<size_t>(in[i])]);
  }

  // Channels-last output, called by every thread of the team: each writes
  // whole pixels (rows of all channels, input after input), in order. Measured
  // 1.6x faster at densenet121's batch-8 sizes than input after input, which
  // writes every row in pieces, a pass over the output per input.
  void rows(const RunState& state, float* y) const {
    const Geometry& o = out_g;
    const int64_t total = o.N * o.S;
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t begin = total * t / team, end = total * (t + 1) / team;
    const float lo = chain.lo, hi = chain.hi;
    int64_t n = begin / o.S, q = begin % o.S;
    for (int64_t u = begin; u < end; ++u) {
      float* dst = y + n * o.n_stride + q * o.p_stride;
      for (size_t i = 0; i < parts.size(); ++i) {
        const Geometry& g = parts[i].g;
        const float* src = input(state, i) + n * g.n_stride + q * g.p_stride;
        const float* scale = chain.scale.data() + parts[i].offset;
        const float* shift = chain.shift.data() + parts[i].offset;
        float* d = dst + parts[i].offset;
        const int64_t run = std::min(g.block, g.C);  // the input's contiguous channels
        for (int64_t c0 = 0; c0 < g.C; c0 += run) {
          const float* sr = src + (c0 / run) * g.block_stride;
          const int64_t m = std::min(run, g.C - c0);
          channel_run(sr, d + c0, scale + c0, shift + c0, m, lo, hi);
        }
      }
      if (++q == o.S) q = 0, ++n;
    }
  }

  // Blocked or planar output, called by every thread of the team: each takes its share (no barrier
  // between inputs, their boxes do not overlap).
  void copy_part(const float* x, const Part& p, float* y) const {
    const Geometry& g = p.g;
    const Geometry& o = out_g;
    const float lo = chain.lo, hi = chain.hi;
    const float* scale = chain.scale.data() + p.offset;
    const float* shift = chain.shift.data() + p.offset;
    if (o.kind == Kind::Blocked) {  // block by block: both sides contiguous over S * block
      const int64_t blocks = g.C / g.block, lanes = g.block;
#pragma omp for schedule(static) nowait
      for (int64_t u = 0; u < g.N * blocks; ++u) {
        const int64_t n = u / blocks, cb = u % blocks;
        const float* src = x + n * g.n_stride + cb * g.block_stride;
        float* dst = y + n * o.n_stride + (p.offset / lanes + cb) * o.block_stride;
        block_run(src, dst, scale + cb * lanes, shift + cb * lanes, g.S, lanes, lo, hi);
      }
    } else {  // planar: channel by channel
#pragma omp for schedule(static) nowait
      for (int64_t u = 0; u < g.N * g.C; ++u) {
        const int64_t n = u / g.C, c = u % g.C;
        const float* src = x + n * g.n_stride + c * g.block_stride;
        float* dst = y + n * o.n_stride + (p.offset + c) * o.block_stride;
        plane_run(src, dst, scale[c], shift[c], g.S, lo, hi);
      }
    }
  }
};

}  // namespace

bool build_concat_affine(PlanBuilder& b, const Node& n, const InferContext& ctx) {
  const auto& out = ctx.outputs()[0].dims;
  int64_t axis = n.attr_int("axis");
  if (axis < 0) axis += static_cast<int64_t>(out.size());
  if (axis != 1 || out.size() < 2 || ctx.outputs()[0].dtype != DType::Float32) return false;
  Chain chain = affine_chain(b, n, out);
  if (chain.nodes.empty()) return false;
  // The output in the first input's format; inputs it cannot read as they
  // are are reordered into that format first.
  std::vector<int> slots;
  std::vector<dnnl::memory::desc> mds;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.input(i).dtype != DType::Float32 || product(ctx.dims(i)) == 0) return false;
    slots.push_back(input_slot(b, n, i));
    mds.push_back(b.layout(slots.back()));
  }
  const dnnl::memory::desc dst_md = same_format_md(mds.front(), out);
  auto step = std::make_unique<ConcatAffineStep>();
  if (!describe_layout(dst_md, out, &step->out_g)) return false;
  std::vector<bool> convert(slots.size(), false);
  int64_t offset = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    Geometry g;
    if (!describe_layout(mds[i], ctx.dims(i), &g) || !pairs(g, step->out_g, offset)) {
      mds[i] = same_format_md(dst_md, ctx.dims(i));
      convert[i] = true;
      if (!describe_layout(mds[i], ctx.dims(i), &g) || !pairs(g, step->out_g, offset)) return false;
    }
    step->parts.push_back({g, offset});
    offset += ctx.dims(i)[1];
  }
  // It applies: now change the plan.
  for (size_t i = 0; i < slots.size(); ++i)
    if (convert[i]) slots[i] = b.in_layout(slots[i], mds[i]);
  const int dst = b.define(chain.result, DType::Float32, out, &dst_md);
  b.alias(n.output(0), dst);
  for (const Node* c : chain.nodes) {
    b.absorb(c);
    if (c->output(0) != chain.result) b.alias(c->output(0), dst);
  }
  step->node = &n;
  step->in = slots;
  step->out = {dst};
  step->threads = b.options().threads;
  step->chain = std::move(chain);
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
