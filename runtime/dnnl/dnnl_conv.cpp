// oneDNN steps for Conv and ConvTranspose, with the following activations and
// residual Add fused as post-ops. Weights are reordered once, into the layout
// the primitive picked (format_tag::any), when the plan is built.
#include "runtime/dnnl/dnnl_builders.hpp"
#include "runtime/dnnl/conv_depthwise.hpp"
#include "runtime/dnnl/impl_timing.hpp"
#include "runtime/dnnl/dnnl_int8.hpp"
#include "runtime/dnnl/impl_choice.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "ops/conv_geometry.hpp"
#include "ops/op_util.hpp"

namespace bnfold::rt {

namespace {

std::vector<int64_t> spatial(const std::vector<int64_t>& d) { return {d.begin() + 2, d.end()}; }

dims_t minus_one(const std::vector<int64_t>& v) {
  dims_t out;
  for (int64_t x : v) out.push_back(x - 1);
  return out;
}

// The oneDNN weight dims {[g,] o, i, k...} and a descriptor of the ONNX
// weight bytes in that logical order.
struct Weights {
  dims_t dims;
  dnnl::memory::desc onnx_md;
};

Weights conv_weights(const std::vector<int64_t>& w, int64_t group) {
  // ONNX Conv weight: [O, I/g, k...], row-major; as {g, O/g, I/g, k...} it is still row-major.
  Weights r;
  if (group > 1) r.dims.push_back(group);
  r.dims.push_back(w[0] / group);
  for (size_t k = 1; k < w.size(); ++k) r.dims.push_back(w[k]);
  r.onnx_md = plain_md(std::vector<int64_t>(r.dims.begin(), r.dims.end()));
  return r;
}

Weights deconv_weights(const std::vector<int64_t>& w, int64_t group) {
  // ONNX ConvTranspose weight: [I, O/g, k...]; oneDNN wants {[g,] O/g, I/g, k...}.
  const int64_t icg = w[0] / group, ocg = w[1];
  int64_t ksize = 1;
  for (size_t k = 2; k < w.size(); ++k) ksize *= w[k];
  Weights r;
  dims_t strides;
  if (group > 1) {
    r.dims.push_back(group);
    strides.push_back(icg * ocg * ksize);
  }
  r.dims.push_back(ocg);
  strides.push_back(ksize);
  r.dims.push_back(icg);
  strides.push_back(ocg * ksize);
  int64_t inner = ksize;
  for (size_t k = 2; k < w.size(); ++k) {
    inner /= w[k];
    r.dims.push_back(w[k]);
    strides.push_back(inner);
  }
  r.onnx_md = dnnl::memory::desc(r.dims, dnnl::memory::data_type::f32, strides);
  return r;
}

// The primitive descriptor of a convolution or deconvolution (P): the two
// take the same arguments.
template <typename P>
Offer conv_pd(dnnl::algorithm alg, const dnnl::memory::desc& x,
                                              const dnnl::memory::desc& w_any, bool has_bias,
                                              const dnnl::memory::desc& b_md, const dnnl::memory::desc& y_any,
                                              const dims_t& strides, const dims_t& dil, const dims_t& pad_l,
                                              const dims_t& pad_r, const dnnl::primitive_attr& attr) {
  const auto kind = dnnl::prop_kind::forward_inference;
  using D = typename P::desc;
  const D d = has_bias ? D(kind, alg, x, w_any, b_md, y_any, strides, dil, pad_l, pad_r)
                       : D(kind, alg, x, w_any, y_any, strides, dil, pad_l, pad_r);
  return make_offer<P>(d, attr);
}

// Whether an implementation for the layout the input has is as good as
// oneDNN's own pick: an optimized one (brgemm, jit; not ref or im2col gemm),
// and brgemm where the pick is brgemm, except for 1x1 and strided
// convolutions. Measured on 2 threads, AVX-512: jit:avx512_core in nChw16c
// takes 1.2-1.45x brgconv's time (nhwc) on 3x3 stride-1 convolutions, which a
// reorder of the input costs less than; on 3x3 stride-2 and 1x1 ones the two
// are within 5% and keeping the layout saves the reorder.
bool as_fast(ImplKind keep, ImplKind pick, bool pointwise_or_strided) {
  if (keep == ImplKind::Brgemm) return true;
  return keep == ImplKind::Jit && (pointwise_or_strided || pick != ImplKind::Brgemm);
}

// Whether oneDNN's Winograd convolution (F(2x2,3x3) or F(4x4,3x3); AVX-512
// only in oneDNN 2.6) is worth trying: a dense 3x3 stride-1 2-D convolution
// with 32 input and 64 output channels and 14x14 outputs. Measured on 2
// threads, AVX-512 (tools/benchmarks/winograd_grid.cpp): 0.35-0.9x the time
// of brgconv from 14x14 up (about 0.5x at resnet's 56x56 x 64). At 7x7 it
// is 0.8-1.13x with 128-512 channels (1.13x at batch 8 with 512) and up to
// 1.8x with fewer, and its weights are transformed at session creation:
// resnet18's three 512-channel 7x7 convs took about 140 ms of its 250-290
// there, so 7x7 stays direct.
// Fewer than 64 outputs (densenet121's 128 -> 32 convs): 0.62-0.87x alone,
// but densenet121 as a whole measured no faster with them (and 1.2x slower
// once its Concats read their outputs in place: a reorder into nChw16c before
// each of them), so they stay direct. Its float32 error against a float64 convolution measured the same
// as the direct kernel's (relative RMS 3e-7 to 1e-6 on N(0,1) data with
// Kaiming weights).
bool winograd_pays(const std::vector<int64_t>& x, const std::vector<int64_t>& wd, const std::vector<int64_t>& out,
                   const WindowGeometry& g, int64_t group) {
  if (x.size() != 4 || group != 1 || wd[2] != 3 || wd[3] != 3) return false;
  for (size_t k = 0; k < 2; ++k)
    if (g.stride[k] != 1 || g.dilation[k] != 1) return false;
  const int64_t in = wd[1], outs = wd[0], side = std::min(out[2], out[3]);
  return in >= 32 && outs >= 64 && side >= 14;
}

// A Winograd convolution where oneDNN has a kernel for it (not its reference
// one); none otherwise, with `why` saying which.
template <typename MakePd>
Offer winograd_offer(const MakePd& make_pd, std::string* why) {
  try {
    Offer pd = make_pd();
    *why = "Winograd: dense 3x3 stride 1, enough channels and outputs";
    if (seek_impl(*pd, [](const dnnl::primitive_desc& c) { return optimized(impl_kind(c.impl_info_str())); }))
      return pd;
    *why = "direct: oneDNN offers only a reference Winograd here";
  } catch (const dnnl::error&) {
    *why = "direct: oneDNN offers no Winograd kernel here (AVX-512 only, and not every post-op)";
  }
  return {};
}

// The step's constant weights (int8 ones as they are) and bias, reordered once.
void add_weights(PlanBuilder& b, DnnlStep& step, const Tensor* w, const Tensor* bias, const Weights& wt,
                 const dnnl::memory::desc& weights_md, const dnnl::memory::desc& b_md, bool int8) {
  const dnnl::memory::desc onnx_md =
      int8 ? plain_md(std::vector<int64_t>(wt.dims.begin(), wt.dims.end()), dnnl::memory::data_type::s8) : wt.onnx_md;
  step.fixed(DNNL_ARG_WEIGHTS, b.constant_weights(*w, 1.0, onnx_md, weights_md));
  if (bias) step.fixed(DNNL_ARG_BIAS, b.constant_weights(*bias, 1.0, b_md, b_md));
}

// Where oneDNN would want the input in another of its own layouts (regnet's
// grouped convs in nChw16c between 1x1 convs in nhwc), a fast implementation
// for the layout the input already has (`have`) saves a reorder there and back.
template <typename MakePd>
void keep_input_layout(Offer* pd, const MakePd& make_pd, const dnnl::memory::desc& have,
                       const dnnl::memory::desc& plain, bool pointwise_or_strided, std::string* why) {
  if (have == (*pd)->src_desc() || have == plain) return;
  try {
    auto keep = make_pd(have);
    const ImplKind pick = impl_kind((*pd)->impl_info_str());
    if (seek_impl(*keep, [&](const dnnl::primitive_desc& k) {
          return as_fast(impl_kind(k.impl_info_str()), pick, pointwise_or_strided);
        })) {
      *pd = std::move(keep);
      *why = fmt::format("input's layout kept: {} there is as fast as a reorder into oneDNN's pick",
                         (*pd)->impl_info_str());
    }
  } catch (const dnnl::error&) {
    // no implementation for that layout: reorder into the one oneDNN chose
  }
}

// A depthwise convolution: oneDNN's list order says nothing of its
// implementations' speed there (impl_timing.hpp), so the faster of the first
// two that keep the layouts already chosen, measured once per descriptor.
template <typename MakePd>
Offer fastest_depthwise(const Offer& pd, const MakePd& make_pd, const std::vector<int64_t>& x,
                        const std::vector<int64_t>& wd, int64_t group, const WindowGeometry& g,
                        const std::string& post_ops, std::string* why) {
  if (group <= 1 || wd[1] != 1 || group != x[1]) return pd;
  const std::string conv = fmt::format("{} {} {} {} {} {}", wd, g.stride, g.pad_begin, g.pad_end, g.dilation, post_ops);
  const dnnl::memory::desc src = pd->src_desc(), dst = pd->dst_desc();
  std::vector<TimedImpl> timed;
  Offer best = fastest_offer(
      [&] { return make_pd(src); },
      [&](const dnnl::primitive_desc& c) {
        return optimized(impl_kind(c.impl_info_str())) && c.src_desc() == src && c.dst_desc() == dst;
      },
      time_primitive_us, fmt::format("conv {} {} {}", md_key(src, true), md_key(dst, true), conv), &timed);
  if (!best) return pd;  // nothing kept the layouts
  std::string list;
  for (const auto& t : timed)
    list += fmt::format("{}{} {}", list.empty() ? "" : ", ", t.impl,
                        std::isfinite(t.us) ? fmt::format("{:.0f} us", t.us) : "could not run");
  if (!list.empty())
    *why += fmt::format("{}the faster of what oneDNN offers first in this layout, timed at session creation: {}",
                        why->empty() ? "" : "; ", list);
  return best;
}

// The convolution as one step; with q, the int8 form of a QDQ model's Conv
// (false, changing nothing, where oneDNN offers only its reference kernel for it).
bool conv_step(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx, const Int8Conv* q) {
  const bool transposed = e.lowering == Lowering::ConvTranspose;
  // Weights and bias are converted to float32 and reordered once (WeightCache).
  const Tensor* w = ctx.input(1).value;
  const bool has_bias = ctx.has_input(2);
  const Tensor* bias = has_bias ? ctx.input(2).value : nullptr;
  if (!w || (has_bias && !bias)) return false;  // weights computed at run time: reference kernel
  const auto& x = ctx.dims(0);
  const auto& wd = ctx.dims(1);
  const auto& out = ctx.outputs()[0].dims;
  const int64_t group = n.attr_int("group");
  WindowGeometry g;
  std::vector<int64_t> output_padding(wd.size() - 2, 0);
  if (transposed) g = transposed_geometry(ctx, spatial(x), spatial(wd), &output_padding);
  else g = conv_geometry(ctx, spatial(x), spatial(wd));
  dims_t pad_r(g.pad_end.begin(), g.pad_end.end());
  for (size_t k = 0; k < pad_r.size(); ++k) pad_r[k] -= output_padding[k];

  const Fusion f = plan_fusion(b, n, out, true);
  const Weights wt = transposed ? deconv_weights(wd, group) : conv_weights(wd, group);
  // Under bf16 the activations and weights are bf16; the bias stays f32. int8: u8/s8 data, s8 weights, f32 out.
  using dtype = dnnl::memory::data_type;
  const auto dt = q ? q->src_type : b.compute_type();
  const dnnl::memory::desc w_any(wt.dims, q ? dtype::s8 : dt, dnnl::memory::format_tag::any);
  // int8 whose result only a QuantizeLinear reads: quantized output (that node folded in).
  const Requantize requantize = q ? requantize_after(b, f) : Requantize{};
  const Requantize* r = requantize.node ? &requantize : nullptr;
  const dnnl::memory::desc y_any =
      any_md(out, r ? dnnl_type(r->dtype) : q ? dtype::f32 : b.output_type(f.result));
  const dnnl::memory::desc b_md = plain_md({out[1]});
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  if (q) add_int8_attr(attr, *q, r);
  const int x_slot = q ? q->src : b.slot_of(n.input(0));
  const dims_t strides(g.stride.begin(), g.stride.end());
  const dims_t pad_l(g.pad_begin.begin(), g.pad_begin.end());
  const dims_t dil = minus_one(g.dilation);  // oneDNN counts dilation from 0

  const auto make_pd = [&](const dnnl::memory::desc& src,
                           dnnl::algorithm alg = dnnl::algorithm::convolution_direct) {
    return transposed ? conv_pd<dnnl::deconvolution_forward>(dnnl::algorithm::deconvolution_direct, src, w_any,
                                                             has_bias, b_md, y_any, strides, dil, pad_l, pad_r, attr)
                      : conv_pd<dnnl::convolution_forward>(alg, src, w_any, has_bias, b_md, y_any, strides, dil,
                                                           pad_l, pad_r, attr);
  };
  Offer pd;
  std::string why;
  if (!q && !transposed && b.options().winograd && winograd_pays(x, wd, out, g, group))
    pd = winograd_offer([&] { return make_pd(any_md(x, dt), dnnl::algorithm::convolution_winograd); }, &why);
  if (!pd) {
    pd = make_pd(any_md(x, dt));
    const auto strided = [](int64_t s) { return s > 1; };
    keep_input_layout(&pd, make_pd, b.layout(x_slot), plain_md(x),
                      (wd.size() == 4 && wd[2] == 1 && wd[3] == 1) ||
                          std::any_of(g.stride.begin(), g.stride.end(), strided),
                      &why);
  }
  // A 1x1 convolution whose output only a 3x3 depthwise one reads: the two
  // as one primitive where any implementation oneDNN offers for the pair runs
  // it as one kernel (jit_1x1 with the depthwise post-op, in nChw16c; it
  // offers that only where the expanded tensor is twice the threads' L2).
  // ref_fused_convolution runs the two one after the other through a buffer:
  // no gain, so the pair then stays two steps.
  DepthwiseTail tail;
  bool with_dw = false;
  const auto one = [](int64_t v) { return v == 1; };
  const auto zero = [](int64_t v) { return v == 0; };
  const bool pointwise = !transposed && group == 1 && wd.size() == 4 && wd[2] == 1 && wd[3] == 1 &&
                         std::all_of(g.stride.begin(), g.stride.end(), one) &&
                         std::all_of(g.pad_begin.begin(), g.pad_begin.end(), zero) &&
                         std::all_of(g.pad_end.begin(), g.pad_end.end(), zero);
  if (!q && pointwise && find_depthwise_tail(b, f, out, &tail)) {
    dnnl::primitive_attr dw_attr = scratch_attr();
    dw_attr.set_post_ops(with_depthwise(f, tail, dt));
    try {
      auto fused = conv_pd<dnnl::convolution_forward>(dnnl::algorithm::convolution_direct, any_md(x, dt), w_any, has_bias,
                                                      b_md, y_any, strides, dil, pad_l, pad_r, dw_attr);
      const dims_t tail_dims(tail.out.begin(), tail.out.end());
      std::string offered;
      if (seek_impl(*fused, [&](const dnnl::primitive_desc& c) {
            offered += (offered.empty() ? "" : ", ") + std::string(c.impl_info_str());
            return optimized(impl_kind(c.impl_info_str())) && c.dst_desc().dims() == tail_dims;
          })) {
        pd = std::move(fused);
        with_dw = true;
        why = fmt::format("1x1 + depthwise as one kernel: {}", pd->impl_info_str());
      } else {
        why = fmt::format("1x1 + depthwise not fused: oneDNN offers only {} for the pair", offered);
      }
    } catch (const dnnl::error&) {
      why = "1x1 + depthwise not fused: oneDNN has no implementation for the pair here";
    }
  }
  if (!q && !with_dw && !transposed) pd = fastest_depthwise(pd, make_pd, x, wd, group, g, f.what, &why);
  const dnnl::memory::desc src_md = pd->src_desc(), weights_md = pd->weights_desc(), dst_md = pd->dst_desc();
  if (q && !optimized(impl_kind(pd->impl_info_str()))) return false;
  if (q) why = fmt::format("int8: {} on the quantized data, scales per channel", pd->impl_info_str());

  // The primitive exists: now change the plan.
  const int src = b.in_layout(x_slot, src_md);
  int dst;
  if (r) {  // the chain's values exist only as the quantized output
    for (const Node* a : f.absorbed) b.absorb(a);
    b.absorb(r->node);
    dst = b.define(r->node->output(0), r->dtype, out, &dst_md);
  } else {
    dst = with_dw ? finish_depthwise(b, f, tail, dst_md) : finish_fusion(b, f, n, out, dst_md);
  }
  auto step = step_for(b, n, *pd, with_dw ? f.what + " + depthwise Conv" + tail.after.what
                                  : r ? f.what + " + QuantizeLinear" : f.what);
  step->why = why;
  step->arg(DNNL_ARG_SRC, src, src_md);
  step->arg(DNNL_ARG_DST, dst, dst_md);
  add_fusion_args(*step, f);
  if (with_dw) add_depthwise_args(b, *step, *pd, tail);
  add_weights(b, *step, q ? q->weights : ctx.input(1).value, q ? q->bias : bias, wt, weights_md, b_md, q != nullptr);
  if (q) add_int8_args(b, *step, *q, r);
  b.add_step(std::move(step));
  return true;
}

}  // namespace

bool build_conv(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx) {
  Int8Conv q;
  if (e.lowering == Lowering::Conv && int8_conv_inputs(b, n, ctx, &q)) {
    try {
      if (conv_step(b, e, n, ctx, &q)) return true;
    } catch (const dnnl::error&) {
      // no int8 kernel for this case: the float32 convolution on the dequantized data
    }
  }
  if (b.slot_of(n.input(0)) < 0 && b.materialize(n.input(0)) < 0) return false;  // a deferred DequantizeLinear
  return conv_step(b, e, n, ctx, nullptr);
}

}  // namespace bnfold::rt
