// oneDNN steps for Conv and ConvTranspose, with the following activations and
// residual Add fused as post-ops. Weights are reordered once, into the layout
// the primitive picked (format_tag::any), when the plan is built.
#include "runtime/dnnl/dnnl_builders.hpp"

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
std::unique_ptr<dnnl::primitive_desc> conv_pd(dnnl::algorithm alg, const dnnl::memory::desc& x,
                                              const dnnl::memory::desc& w_any, bool has_bias,
                                              const dnnl::memory::desc& b_md, const std::vector<int64_t>& out,
                                              const dims_t& strides, const dims_t& dil, const dims_t& pad_l,
                                              const dims_t& pad_r, const dnnl::primitive_attr& attr) {
  const auto kind = dnnl::prop_kind::forward_inference;
  using D = typename P::desc;
  const D d = has_bias ? D(kind, alg, x, w_any, b_md, any_md(out), strides, dil, pad_l, pad_r)
                       : D(kind, alg, x, w_any, any_md(out), strides, dil, pad_l, pad_r);
  return std::make_unique<typename P::primitive_desc>(d, attr, dnnl_engine());
}

// oneDNN's optimized convolutions (brgconv, jit), not its ref or im2col gemm paths.
bool fast_conv(const char* impl) {
  const std::string name = impl;
  return name.rfind("brg", 0) == 0 || name.rfind("jit", 0) == 0;
}

}  // namespace

bool build_conv(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx) {
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
  const dnnl::memory::desc w_any(wt.dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
  const dnnl::memory::desc b_md = plain_md({out[1]});
  dnnl::primitive_attr attr = scratch_attr();
  attr.set_post_ops(f.ops);
  const dims_t strides(g.stride.begin(), g.stride.end());
  const dims_t pad_l(g.pad_begin.begin(), g.pad_begin.end());
  const dims_t dil = minus_one(g.dilation);  // oneDNN counts dilation from 0

  const auto make_pd = [&](const dnnl::memory::desc& src) {
    return transposed ? conv_pd<dnnl::deconvolution_forward>(dnnl::algorithm::deconvolution_direct, src, w_any,
                                                             has_bias, b_md, out, strides, dil, pad_l, pad_r, attr)
                      : conv_pd<dnnl::convolution_forward>(dnnl::algorithm::convolution_direct, src, w_any, has_bias,
                                                           b_md, out, strides, dil, pad_l, pad_r, attr);
  };
  std::unique_ptr<dnnl::primitive_desc> pd = make_pd(any_md(x));
  // Where oneDNN would want the input in another of its own layouts (regnet's
  // grouped convs in nChw16c between 1x1 convs in nhwc), a fast implementation
  // for the layout the input already has saves a reorder there and back.
  const dnnl::memory::desc have = b.layout(b.slot_of(n.input(0)));
  if (have != pd->src_desc() && have != plain_md(x)) {
    try {
      auto keep = make_pd(have);
      if (fast_conv(keep->impl_info_str())) pd = std::move(keep);
    } catch (const dnnl::error&) {
      // no implementation for that layout: reorder into the one oneDNN chose
    }
  }
  const dnnl::memory::desc src_md = pd->src_desc(), weights_md = pd->weights_desc(), dst_md = pd->dst_desc();

  // The primitive exists: now change the plan.
  const int src = b.in_layout(b.slot_of(n.input(0)), src_md);
  const int dst = finish_fusion(b, f, n, out, dst_md);
  auto step = step_for(b, n, *pd, f.what);
  step->arg(DNNL_ARG_SRC, src, src_md);
  step->arg(DNNL_ARG_DST, dst, dst_md);
  add_fusion_args(*step, f);
  step->fixed(DNNL_ARG_WEIGHTS, b.constant_weights(*ctx.input(1).value, 1.0, wt.onnx_md, weights_md));
  if (has_bias) step->fixed(DNNL_ARG_BIAS, b.constant_weights(*bias, 1.0, b_md, b_md));
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
