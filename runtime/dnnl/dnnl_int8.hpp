// Internal: QDQ models on oneDNN's int8 kernels. QuantizeLinear and
// DequantizeLinear with one constant scale become reorders with a scale and
// a zero point; a Conv whose data is DequantizeLinear(uint8/int8 x) and whose
// weights are DequantizeLinear(int8 constants, one scale per output channel,
// zero points 0) runs as an int8 convolution on x itself (VNNI/AMX where the
// CPU has them), the two scales applied to its int32 sums.
#pragma once

#include <dnnl.hpp>

#include "runtime/dnnl/dnnl_builders.hpp"

namespace bnfold::rt {

bool build_quantize(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
bool build_dequantize(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);

// What an int8 convolution (or inner product: a Gemm) needs of a QDQ model's node.
struct Int8Conv {
  int src = -1;                     // the slot of the quantized data (uint8 or int8)
  dnnl::memory::data_type src_type = dnnl::memory::data_type::u8;
  int32_t zero_point = 0;           // the data's
  const Tensor* weights = nullptr;  // int8, ONNX layout
  std::vector<float> scales;        // per output channel: data scale x weight scale
  const Tensor* bias = nullptr;     // float32, divided by `scales` (oneDNN adds it before scaling)
};
// Whether this CPU multiplies int8 exactly: VNNI (AVX512 or AVX2) or AMX, as
// oneDNN sees it. Without, oneDNN's int8 kernels add pairs of u8 x s8
// products in int16 (vpmaddubsw), which saturates, and halve the weights to
// avoid it: not the integers the QDQ model defines (measured: 0.2 off on
// outputs of about 10 under ONEDNN_MAX_CPU_ISA=AVX2). Such CPUs run the
// float32 convolution on the dequantized data instead.
bool exact_int8_cpu();
// Whether n's inputs (a Conv's, a Gemm's without transA and alpha, or a
// MatMul's with constant 2-D weights) have that form (and fills q); false
// leaves the f32 path.
bool int8_conv_inputs(PlanBuilder& b, const Node& n, const InferContext& ctx, Int8Conv* q);
// A QuantizeLinear (one scale) that alone reads a fused int8 layer's result:
// the layer then writes its quantized output directly (as ONNX Runtime's
// QLinearConv does), the scale and zero point folded into its own, the
// activations after it rescaled (ReLU, LeakyReLU, Clip are; others are not,
// and keep the float output). Null where that does not apply.
struct Requantize {
  const Node* node = nullptr;  // the QuantizeLinear
  float scale = 1;
  int32_t zero_point = 0;
  DType dtype = DType::UInt8;
  dnnl::post_ops ops;  // f's post-ops in the quantized domain
};
Requantize requantize_after(const PlanBuilder& b, const Fusion& f);
// The attributes and arguments the int8 form adds to a convolution.
void add_int8_attr(dnnl::primitive_attr& attr, const Int8Conv& q, const Requantize* r = nullptr);
void add_int8_args(PlanBuilder& b, DnnlStep& step, const Int8Conv& q, const Requantize* r = nullptr);

}  // namespace bnfold::rt
