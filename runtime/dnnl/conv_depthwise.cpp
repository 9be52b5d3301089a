// A 1x1 convolution and the 3x3 depthwise convolution that alone reads its
// output (mobilenet_v2's, mnasnet's and efficientnet's inverted residuals) as
// one oneDNN primitive: the depthwise one becomes a post-op, so the expanded
// tensor (6x the channels, at the block's input resolution) is never written
// to memory and read back.
#include "runtime/dnnl/conv_depthwise.hpp"

#include <algorithm>

namespace bnfold::rt {

namespace {

bool ints_are(const Node& n, const char* name, const std::vector<int64_t>& want, bool absent_ok) {
  if (!n.has_attr(name)) return absent_ok;
  return n.attr_ints(name) == want;
}

const Tensor* constant_f32(const PlanBuilder& b, const Value* v) {
  const Tensor* t = known_constant(b, v);
  return t && t->dtype() == DType::Float32 ? t : nullptr;
}

// Post-ops of `from` appended to `to`: the eltwise and binary kinds that
// plan_fusion writes when it may not use a sum.
void append_ops(dnnl::post_ops& to, const dnnl::post_ops& from) {
  for (int i = 0; i < from.len(); ++i) {
    if (from.kind(i) == dnnl::primitive::kind::eltwise) {
      float scale, alpha, beta;
      dnnl::algorithm alg;
      from.get_params_eltwise(i, scale, alg, alpha, beta);
      to.append_eltwise(scale, alg, alpha, beta);
    } else {
      dnnl::algorithm alg;
      dnnl::memory::desc md;
      from.get_params_binary(i, alg, md);
      to.append_binary(alg, md);
    }
  }
}

}  // namespace

bool find_depthwise_tail(PlanBuilder& b, const Fusion& f, const std::vector<int64_t>& out, DepthwiseTail* t) {
  if (out.size() != 4 || f.residual >= 0 || b.tapped(f.result)) return false;
  // Only where one sample's expanded tensor outgrows a core's L2 (1 MB on
  // the EPYC measured): there writing it out and reading it back costs more
  // than the change to nChw16c the pair needs. Measured on 2 threads,
  // AVX-512, batch 1 and 8: mobilenet_v2's 96x112x112 and 144x56x56 pairs
  // 0.4-0.7x the time of the two convolutions; below that, efficientnet's
  // 240x28x28 and mnasnet's 48x56x56 1.2-1.8x, with reorders around them.
  if (out[1] * out[2] * out[3] < 400000) return false;
  const Node* c = b.sole_consumer(f.result);
  if (!c || !lowered_as(*c, Lowering::Conv) || c->input(0) != f.result) return false;
  const int64_t channels = out[1];
  const Tensor* w = constant_f32(b, c->input(1));
  const Tensor* bias = c->inputs().size() > 2 ? constant_f32(b, c->input(2)) : nullptr;
  if (!w || (c->inputs().size() > 2 && c->input(2) && !bias)) return false;
  if (w->dims() != std::vector<int64_t>{channels, 1, 3, 3} || c->attr_int("group") != channels) return false;
  // oneDNN's depthwise post-op: 3x3, padding 1 on every side, stride 1 or 2.
  const int64_t stride = c->has_attr("strides") ? c->attr_ints("strides")[0] : 1;
  if (stride != 1 && stride != 2) return false;
  if (!ints_are(*c, "strides", {stride, stride}, true) || !ints_are(*c, "pads", {1, 1, 1, 1}, false) ||
      !ints_are(*c, "dilations", {1, 1}, true) || !ints_are(*c, "kernel_shape", {3, 3}, true) ||
      (c->has_attr("auto_pad") && c->attr_string("auto_pad") != "NOTSET"))
    return false;
  t->conv = c;
  t->weights = w;
  t->bias = bias;
  t->stride = stride;
  t->out = {out[0], channels, (out[2] - 1) / stride + 1, (out[3] - 1) / stride + 1};
  t->after = plan_fusion(b, *c, t->out, false);
  return true;
}

dnnl::post_ops with_depthwise(const Fusion& f, DepthwiseTail& t, dnnl::memory::data_type dt) {
  dnnl::post_ops ops;
  append_ops(ops, f.ops);
  ops.append_dw(dt, dnnl::memory::data_type::f32, dt, 3, t.stride, 1, 0, {});
  const int shift = ops.len();
  append_ops(ops, t.after.ops);
  for (auto& a : t.after.binary_args) a.index += shift;
  t.after.ops = dnnl::post_ops();  // now part of `ops`; the indices above point there
  return ops;
}

void add_depthwise_args(PlanBuilder& b, DnnlStep& step, const dnnl::primitive_desc& pd, const DepthwiseTail& t) {
  constexpr int kDw = DNNL_ARG_ATTR_POST_OP_DW;
  const dnnl::memory::desc w_md = pd.query_md(dnnl::query::exec_arg_md, kDw | DNNL_ARG_WEIGHTS);
  const dnnl::memory::desc b_md = pd.query_md(dnnl::query::exec_arg_md, kDw | DNNL_ARG_BIAS);
  const int64_t channels = t.out[1];
  // ONNX's [C, 1, 3, 3] is oneDNN's grouped {C, 1, 1, 3, 3}, row-major.
  const dnnl::memory::desc onnx_w = plain_md({channels, 1, 1, 3, 3});
  step.fixed(kDw | DNNL_ARG_WEIGHTS, b.constant_weights(*t.weights, 1.0, onnx_w, w_md));
  const Tensor* bias = t.bias ? t.bias : b.own(Tensor(DType::Float32, {channels}));  // zeros: the post-op has one
  step.fixed(kDw | DNNL_ARG_BIAS, b.constant_weights(*bias, 1.0, plain_md({channels}), b_md));
  add_fusion_args(step, t.after);
  // 9 multiply-adds per output element.
  b.add_flops(2.0 * 9 * static_cast<double>(t.out[0] * t.out[1] * t.out[2] * t.out[3]));
}

int finish_depthwise(PlanBuilder& b, const Fusion& f, const DepthwiseTail& t, const dnnl::memory::desc& dst_md) {
  // The 1x1 convolution's output and its activations' exist nowhere: only
  // the depthwise convolution read them.
  for (const Node* n : f.absorbed) b.absorb(n);
  b.absorb(t.conv);
  return finish_fusion(b, t.after, *t.conv, t.out, dst_md);
}

}  // namespace bnfold::rt
