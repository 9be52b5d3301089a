// Internal: a 1x1 convolution fused with the 3x3 depthwise convolution after
// it (oneDNN's depthwise post-op); used by build_conv (dnnl_conv.cpp).
#pragma once

#include "runtime/dnnl/dnnl_step.hpp"

namespace bnfold::rt {

struct DepthwiseTail {
  const Node* conv = nullptr;       // the depthwise Conv
  const Tensor* weights = nullptr;  // [C, 1, 3, 3]
  const Tensor* bias = nullptr;     // [C] or none
  int64_t stride = 1;
  std::vector<int64_t> out;  // its output dims
  Fusion after;              // the activations after it
};

// Whether the value the 1x1 convolution's fusion f produces (dims out) feeds
// only a depthwise convolution the post-op can compute; fills t.
bool find_depthwise_tail(PlanBuilder& b, const Fusion& f, const std::vector<int64_t>& out, DepthwiseTail* t);
// f's post-ops, the depthwise convolution, then its own activations'.
// dt: the data type of the depthwise weights and output (the plan's compute type).
dnnl::post_ops with_depthwise(const Fusion& f, DepthwiseTail& t, dnnl::memory::data_type dt);
// The depthwise weights and bias, the later post-ops' operands, its FLOPs.
void add_depthwise_args(PlanBuilder& b, DnnlStep& step, const dnnl::primitive_desc& pd, const DepthwiseTail& t);
// In place of finish_fusion: defines the depthwise output; returns its slot.
int finish_depthwise(PlanBuilder& b, const Fusion& f, const DepthwiseTail& t, const dnnl::memory::desc& dst_md);

}  // namespace bnfold::rt
