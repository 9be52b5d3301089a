// Internal: the factories of the reference kernels (one file per op family),
// which the op table (ops/op_table.cpp) lists, the FLOP counts of the ops
// that dominate run time, and helpers other layers share.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ops/kernel.hpp"
#include "ops/op_table.hpp"

namespace bnfold::ops {

// variant: the UnaryOp, BinaryOp... of the entry; factories of one op ignore it.
std::unique_ptr<OpKernel> make_unary(const Node&, int variant);
std::unique_ptr<OpKernel> make_clip(const Node&, int);
std::unique_ptr<OpKernel> make_dropout(const Node&, int);
std::unique_ptr<OpKernel> make_binary(const Node&, int variant);
std::unique_ptr<OpKernel> make_shape(const Node&, int);
std::unique_ptr<OpKernel> make_size(const Node&, int);
std::unique_ptr<OpKernel> make_reshaping(const Node&, int variant);
std::unique_ptr<OpKernel> make_transpose(const Node&, int);
std::unique_ptr<OpKernel> make_concat(const Node&, int);
std::unique_ptr<OpKernel> make_split(const Node&, int);
std::unique_ptr<OpKernel> make_slice(const Node&, int);
std::unique_ptr<OpKernel> make_gather(const Node&, int);
std::unique_ptr<OpKernel> make_expand(const Node&, int);
std::unique_ptr<OpKernel> make_pad(const Node&, int);
std::unique_ptr<OpKernel> make_constant_of_shape(const Node&, int);
std::unique_ptr<OpKernel> make_cast(const Node&, int);
std::unique_ptr<OpKernel> make_conv(const Node&, int);
std::unique_ptr<OpKernel> make_conv_transpose(const Node&, int);
std::unique_ptr<OpKernel> make_pool(const Node&, int variant);
std::unique_ptr<OpKernel> make_lrn(const Node&, int);
std::unique_ptr<OpKernel> make_gemm(const Node&, int);
std::unique_ptr<OpKernel> make_matmul(const Node&, int);
std::unique_ptr<OpKernel> make_batchnorm(const Node&, int);
std::unique_ptr<OpKernel> make_softmax(const Node&, int variant);
std::unique_ptr<OpKernel> make_reduce(const Node&, int variant);
std::unique_ptr<OpKernel> make_resize(const Node&, int variant);
// ops/logic_ops.cpp
std::unique_ptr<OpKernel> make_not(const Node&, int);
std::unique_ptr<OpKernel> make_logic(const Node&, int variant);  // 0 And, 1 Or, 2 Xor
std::unique_ptr<OpKernel> make_where(const Node&, int);
std::unique_ptr<OpKernel> make_mod(const Node&, int);
std::unique_ptr<OpKernel> make_bitshift(const Node&, int);
std::unique_ptr<OpKernel> make_is_special(const Node&, int variant);  // 0 IsInf, 1 IsNaN
// ops/quant_ops.cpp
std::unique_ptr<OpKernel> make_quantize_linear(const Node&, int);
std::unique_ptr<OpKernel> make_dequantize_linear(const Node&, int);
// ops/index_ops.cpp
std::unique_ptr<OpKernel> make_arg_extreme(const Node&, int variant);  // 0 ArgMax, 1 ArgMin
std::unique_ptr<OpKernel> make_topk(const Node&, int);
std::unique_ptr<OpKernel> make_hardmax(const Node&, int);
std::unique_ptr<OpKernel> make_cumsum(const Node&, int);
std::unique_ptr<OpKernel> make_gather_elements(const Node&, int);
std::unique_ptr<OpKernel> make_scatter_elements(const Node&, int);
std::unique_ptr<OpKernel> make_gather_nd(const Node&, int);
std::unique_ptr<OpKernel> make_scatter_nd(const Node&, int);
std::unique_ptr<OpKernel> make_one_hot(const Node&, int);
// ops/arrange_ops.cpp
std::unique_ptr<OpKernel> make_range(const Node&, int);
std::unique_ptr<OpKernel> make_tile(const Node&, int);
std::unique_ptr<OpKernel> make_trilu(const Node&, int);
std::unique_ptr<OpKernel> make_eye_like(const Node&, int);
std::unique_ptr<OpKernel> make_cast_like(const Node&, int);
std::unique_ptr<OpKernel> make_depth_space(const Node&, int variant);  // 0 DepthToSpace, 1 SpaceToDepth
std::unique_ptr<OpKernel> make_layer_norm(const Node&, int);
std::unique_ptr<OpKernel> make_instance_norm(const Node&, int);
// ops/math_ops.cpp
std::unique_ptr<OpKernel> make_shrink(const Node&, int);
std::unique_ptr<OpKernel> make_det(const Node&, int);
std::unique_ptr<OpKernel> make_mvn(const Node&, int);
std::unique_ptr<OpKernel> make_einsum(const Node&, int);
// ops/select_ops.cpp
std::unique_ptr<OpKernel> make_non_zero(const Node&, int);
std::unique_ptr<OpKernel> make_compress(const Node&, int);
std::unique_ptr<OpKernel> make_unique_op(const Node&, int);
std::unique_ptr<OpKernel> make_reverse_sequence(const Node&, int);
std::unique_ptr<OpKernel> make_max_unpool(const Node&, int);
// ops/signal_ops.cpp
std::unique_ptr<OpKernel> make_window(const Node&, int variant);  // 0 Hann, 1 Hamming, 2 Blackman
std::unique_ptr<OpKernel> make_mel_weight_matrix(const Node&, int);
std::unique_ptr<OpKernel> make_dft(const Node&, int);
std::unique_ptr<OpKernel> make_stft(const Node&, int);
// ops/detect_ops.cpp
std::unique_ptr<OpKernel> make_non_max_suppression(const Node&, int);
std::unique_ptr<OpKernel> make_roi_align(const Node&, int);
std::unique_ptr<OpKernel> make_grid_sample(const Node&, int);
// ops/rnn_ops.cpp
std::unique_ptr<OpKernel> make_rnn(const Node&, int variant);  // 0 RNN, 1 GRU, 2 LSTM
// ops/integer_ops.cpp
std::unique_ptr<OpKernel> make_integer_linalg(const Node&, int variant);  // 0 MatMulInteger, 1 ConvInteger, 2 QLinearMatMul, 3 QLinearConv
std::unique_ptr<OpKernel> make_dynamic_quantize_linear(const Node&, int);
// ops/text_ops.cpp
std::unique_ptr<OpKernel> make_tfidf_vectorizer(const Node&, int);
std::unique_ptr<OpKernel> make_if(const Node&, int);  // ops/control_ops.cpp
std::unique_ptr<OpKernel> make_loop(const Node&, int variant);  // 0 Loop, 1 Scan
// ops/loss_ops.cpp
std::unique_ptr<OpKernel> make_loss(const Node&, int variant);  // 0 NegativeLogLikelihoodLoss, 1 SoftmaxCrossEntropyLoss

// The ONNX names of the variants (for messages, and the table's test).
const char* unary_name(UnaryOp op);
const char* binary_name(BinaryOp op);

// Which axes of input 0 a Reduce* node reduces (its axes attribute or input,
// all of them when it has none, none with noop_with_empty_axes).
std::vector<bool> reduced_axes(const InferContext& ctx, ReduceOp op);

double conv_flops(const Node&, const InferContext&);
double conv_transpose_flops(const Node&, const InferContext&);
double gemm_flops(const Node&, const InferContext&);
double matmul_flops(const Node&, const InferContext&);

// Per-channel (axis 1) mean and biased variance of x.
void batch_moments(const Tensor& x, std::vector<double>* mean, std::vector<double>* var);

// Converts any numeric tensor into out's dtype (numpy astype semantics).
void cast_into(const Tensor& in, Tensor* out);

}  // namespace bnfold::ops
