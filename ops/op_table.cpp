// The op table: every op bnfold runs, the opsets it implements, its
// reference kernel and variant, the oneDNN lowering that may serve it, and
// its FLOP count. runtime/dnnl/ maps each Lowering to a builder.
#include <fmt/format.h>

#include "bnfold/graph/onnx_io.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

constexpr int kMax = 17;  // the newest opset bnfold implements

using L = Lowering;

template <typename E>
constexpr int v(E e) {
  return static_cast<int>(e);
}

constexpr OpEntry unary(const char* op, int since, UnaryOp u, Lowering l = L::None) {
  return {op, since, kMax, make_unary, v(u), l, nullptr};
}
constexpr OpEntry binary(const char* op, int since, BinaryOp b, Lowering l = L::None) {
  return {op, since, kMax, make_binary, v(b), l, nullptr};
}
constexpr OpEntry reduce(const char* op, ReduceOp r, Lowering l = L::None) {
  return {op, 1, kMax, make_reduce, v(r), l, nullptr};
}
constexpr OpEntry plain(const char* op, int since, KernelFactory f, Lowering l = L::None, FlopCount c = nullptr) {
  return {op, since, kMax, f, 0, l, c};
}

const OpEntry kOps[] = {
    // activations and element-wise math (Eltwise: oneDNN has the function)
    unary("Relu", 1, UnaryOp::Relu, L::Eltwise),
    unary("LeakyRelu", 1, UnaryOp::LeakyRelu, L::Eltwise),
    unary("Elu", 1, UnaryOp::Elu, L::Eltwise),
    unary("Celu", 12, UnaryOp::Celu),
    unary("Selu", 1, UnaryOp::Selu),
    unary("ThresholdedRelu", 10, UnaryOp::ThresholdedRelu),
    unary("Sigmoid", 1, UnaryOp::Sigmoid, L::Eltwise),
    unary("HardSigmoid", 1, UnaryOp::HardSigmoid, L::Eltwise),
    unary("HardSwish", 14, UnaryOp::HardSwish, L::Eltwise),
    unary("Tanh", 1, UnaryOp::Tanh, L::Eltwise),
    unary("Softplus", 1, UnaryOp::Softplus, L::Eltwise),
    unary("Softsign", 1, UnaryOp::Softsign),
    unary("Exp", 1, UnaryOp::Exp, L::Eltwise),
    unary("Log", 1, UnaryOp::Log),
    unary("Sqrt", 1, UnaryOp::Sqrt, L::Eltwise),
    unary("Reciprocal", 1, UnaryOp::Reciprocal),
    unary("Abs", 1, UnaryOp::Abs, L::Eltwise),
    unary("Neg", 1, UnaryOp::Neg),
    unary("Sign", 9, UnaryOp::Sign),
    unary("Floor", 1, UnaryOp::Floor),
    unary("Ceil", 1, UnaryOp::Ceil),
    unary("Round", 11, UnaryOp::Round),
    unary("Erf", 9, UnaryOp::Erf),
    unary("Sin", 7, UnaryOp::Sin),
    unary("Cos", 7, UnaryOp::Cos),
    unary("Tan", 7, UnaryOp::Tan),
    unary("Asin", 7, UnaryOp::Asin),
    unary("Acos", 7, UnaryOp::Acos),
    unary("Atan", 7, UnaryOp::Atan),
    unary("Sinh", 9, UnaryOp::Sinh),
    unary("Cosh", 9, UnaryOp::Cosh),
    unary("Asinh", 9, UnaryOp::Asinh),
    unary("Acosh", 9, UnaryOp::Acosh),
    unary("Atanh", 9, UnaryOp::Atanh),
    unary("Identity", 1, UnaryOp::Identity),
    {"Clip", 1, kMax, make_clip, v(UnaryOp::Clip), L::Eltwise, nullptr},
    {"Dropout", 1, kMax, make_dropout, v(UnaryOp::Dropout), L::None, nullptr},
    // broadcasting binary and variadic ops
    binary("Add", 1, BinaryOp::Add, L::Binary),
    binary("Sub", 1, BinaryOp::Sub, L::Binary),
    binary("Mul", 1, BinaryOp::Mul, L::Binary),
    binary("Div", 1, BinaryOp::Div, L::Binary),
    binary("Pow", 1, BinaryOp::Pow),
    binary("Max", 1, BinaryOp::Max, L::Binary),
    binary("Min", 1, BinaryOp::Min, L::Binary),
    binary("Sum", 1, BinaryOp::Sum, L::Binary),
    binary("Mean", 1, BinaryOp::Mean),
    binary("PRelu", 1, BinaryOp::PRelu),
    binary("Equal", 1, BinaryOp::Equal),
    binary("Less", 1, BinaryOp::Less),
    binary("Greater", 1, BinaryOp::Greater),
    binary("LessOrEqual", 12, BinaryOp::LessOrEqual),
    binary("GreaterOrEqual", 12, BinaryOp::GreaterOrEqual),
    // neural network layers
    plain("Conv", 1, make_conv, L::Conv, conv_flops),
    plain("ConvTranspose", 1, make_conv_transpose, L::ConvTranspose, conv_transpose_flops),
    plain("Gemm", 1, make_gemm, L::Gemm, gemm_flops),
    plain("MatMul", 1, make_matmul, L::MatMul, matmul_flops),
    plain("BatchNormalization", 1, make_batchnorm, L::BatchNorm),
    {"MaxPool", 1, kMax, make_pool, v(PoolOp::MaxPool), L::Pool, nullptr},
    {"AveragePool", 1, kMax, make_pool, v(PoolOp::AveragePool), L::Pool, nullptr},
    {"GlobalMaxPool", 1, kMax, make_pool, v(PoolOp::GlobalMaxPool), L::Pool, nullptr},
    {"GlobalAveragePool", 1, kMax, make_pool, v(PoolOp::GlobalAveragePool), L::Pool, nullptr},
    plain("LRN", 1, make_lrn, L::Lrn),
    {"Softmax", 1, kMax, make_softmax, v(SoftmaxOp::Softmax), L::Softmax, nullptr},
    {"LogSoftmax", 1, kMax, make_softmax, v(SoftmaxOp::LogSoftmax), L::Softmax, nullptr},
    reduce("ReduceMean", ReduceOp::Mean, L::Reduce),
    reduce("ReduceSum", ReduceOp::Sum, L::Reduce),
    reduce("ReduceMax", ReduceOp::Max, L::Reduce),
    reduce("ReduceMin", ReduceOp::Min, L::Reduce),
    reduce("ReduceProd", ReduceOp::Prod),
    reduce("ReduceL1", ReduceOp::L1),
    reduce("ReduceL2", ReduceOp::L2),
    reduce("ReduceSumSquare", ReduceOp::SumSquare),
    reduce("ReduceLogSumExp", ReduceOp::LogSumExp),
    reduce("ReduceLogSum", ReduceOp::LogSum),
    // shapes and data movement
    plain("Shape", 1, make_shape),
    plain("Size", 1, make_size),
    {"Flatten", 1, kMax, make_reshaping, v(ReshapeOp::Flatten), L::None, nullptr},
    {"Reshape", 1, kMax, make_reshaping, v(ReshapeOp::Reshape), L::None, nullptr},
    {"Squeeze", 1, kMax, make_reshaping, v(ReshapeOp::Squeeze), L::None, nullptr},
    {"Unsqueeze", 1, kMax, make_reshaping, v(ReshapeOp::Unsqueeze), L::None, nullptr},
    plain("Transpose", 1, make_transpose),
    plain("Concat", 1, make_concat, L::Concat),
    plain("Split", 1, make_split),
    plain("Slice", 1, make_slice),
    plain("Gather", 1, make_gather),
    plain("Expand", 8, make_expand),
    plain("Pad", 1, make_pad),
    plain("ConstantOfShape", 9, make_constant_of_shape),
    plain("Cast", 1, make_cast),
    {"Resize", 10, kMax, make_resize, v(ResizeOp::Resize), L::None, nullptr},
    {"Upsample", 7, 9, make_resize, v(ResizeOp::Upsample), L::None, nullptr},
    // logic, selection, integers (ops/logic_ops.cpp)
    plain("Not", 1, make_not),
    {"And", 7, kMax, make_logic, 0, L::None, nullptr},
    {"Or", 7, kMax, make_logic, 1, L::None, nullptr},
    {"Xor", 7, kMax, make_logic, 2, L::None, nullptr},
    plain("Where", 9, make_where),
    plain("Mod", 10, make_mod),
    plain("BitShift", 11, make_bitshift),
    {"IsInf", 10, kMax, make_is_special, 0, L::None, nullptr},
    {"IsNaN", 9, kMax, make_is_special, 1, L::None, nullptr},
    // int8 simulation in QDQ models (ops/quant_ops.cpp)
    {"QuantizeLinear", 10, kMax, make_quantize_linear, 0, L::Quantize, nullptr},
    {"DequantizeLinear", 10, kMax, make_dequantize_linear, 0, L::Dequantize, nullptr},
    // indexing (ops/index_ops.cpp)
    {"ArgMax", 1, kMax, make_arg_extreme, 0, L::None, nullptr},
    {"ArgMin", 1, kMax, make_arg_extreme, 1, L::None, nullptr},
    plain("TopK", 1, make_topk),
    plain("Hardmax", 1, make_hardmax),
    plain("CumSum", 11, make_cumsum),
    plain("GatherElements", 11, make_gather_elements),
    plain("ScatterElements", 11, make_scatter_elements),
    plain("GatherND", 11, make_gather_nd),
    plain("ScatterND", 11, make_scatter_nd),
    plain("OneHot", 9, make_one_hot),
    // building and rearranging (ops/arrange_ops.cpp)
    plain("Range", 11, make_range),
    plain("Tile", 6, make_tile),
    plain("Trilu", 14, make_trilu),
    plain("EyeLike", 9, make_eye_like),
    plain("CastLike", 15, make_cast_like),
    {"DepthToSpace", 1, kMax, make_depth_space, 0, L::None, nullptr},
    {"SpaceToDepth", 1, kMax, make_depth_space, 1, L::None, nullptr},
    plain("LayerNormalization", 17, make_layer_norm, L::LayerNorm),
    plain("InstanceNormalization", 1, make_instance_norm),
    // math (ops/math_ops.cpp)
    plain("Shrink", 9, make_shrink),
    plain("Det", 11, make_det),
    plain("MeanVarianceNormalization", 9, make_mvn),
    plain("Einsum", 12, make_einsum),
    // selection (ops/select_ops.cpp); Scatter is ScatterElements before opset 11
    plain("NonZero", 9, make_non_zero),
    plain("Compress", 9, make_compress),
    plain("Unique", 11, make_unique_op),
    plain("ReverseSequence", 10, make_reverse_sequence),
    plain("MaxUnpool", 9, make_max_unpool),
    {"Scatter", 9, 10, make_scatter_elements, 0, L::None, nullptr},
    // signal processing (ops/signal_ops.cpp)
    {"HannWindow", 17, kMax, make_window, 0, L::None, nullptr},
    {"HammingWindow", 17, kMax, make_window, 1, L::None, nullptr},
    {"BlackmanWindow", 17, kMax, make_window, 2, L::None, nullptr},
    plain("MelWeightMatrix", 17, make_mel_weight_matrix),
    plain("DFT", 17, make_dft),
    plain("STFT", 17, make_stft),
    // detection (ops/detect_ops.cpp)
    plain("NonMaxSuppression", 10, make_non_max_suppression),
    plain("RoiAlign", 10, make_roi_align),
    plain("GridSample", 16, make_grid_sample),
    // recurrent layers (ops/rnn_ops.cpp)
    {"RNN", 7, kMax, make_rnn, 0, L::None, nullptr},
    {"GRU", 7, kMax, make_rnn, 1, L::None, nullptr},
    {"LSTM", 7, kMax, make_rnn, 2, L::None, nullptr},
    // integer arithmetic (ops/integer_ops.cpp)
    {"MatMulInteger", 10, kMax, make_integer_linalg, 0, L::None, nullptr},
    {"ConvInteger", 10, kMax, make_integer_linalg, 1, L::None, nullptr},
    {"QLinearMatMul", 10, kMax, make_integer_linalg, 2, L::None, nullptr},
    {"QLinearConv", 10, kMax, make_integer_linalg, 3, L::None, nullptr},
    plain("DynamicQuantizeLinear", 11, make_dynamic_quantize_linear),
    plain("TfIdfVectorizer", 9, make_tfidf_vectorizer),
    // control flow (ops/control_ops.cpp)
    plain("If", 1, make_if),
    {"Loop", 1, kMax, make_loop, 0, L::None, nullptr},
    {"Scan", 9, kMax, make_loop, 1, L::None, nullptr},
    // losses of evaluation graphs (ops/loss_ops.cpp)
    {"NegativeLogLikelihoodLoss", 12, kMax, make_loss, 0, L::None, nullptr},
    {"SoftmaxCrossEntropyLoss", 12, kMax, make_loss, 1, L::None, nullptr},
};

}  // namespace

const OpEntry* find_op(const std::string& op, int64_t opset) {
  for (const OpEntry& e : kOps)
    if (op == e.op && opset >= e.since && opset <= e.until) return &e;
  return nullptr;
}

const OpEntry* find_op(const Node& n) {
  return n.domain().empty() ? find_op(n.op_type(), n.graph_opset()) : nullptr;
}

const OpEntry* lowered_as(const Node& n, Lowering lowering) {
  const OpEntry* e = find_op(n);
  return e && e->lowering == lowering ? e : nullptr;
}

std::vector<const OpEntry*> all_ops() {
  std::vector<const OpEntry*> out;
  for (const OpEntry& e : kOps) out.push_back(&e);
  return out;
}

std::string why_unsupported(const Node& n) {
  if (!n.domain().empty()) return fmt::format("bnfold has no kernel for ops of domain '{}'", n.domain());
  for (const OpEntry& e : kOps)
    if (n.op_type() == e.op)
      return fmt::format("{} is implemented for opsets {} to {}, the model uses opset {}", e.op, e.since, e.until,
                         n.graph_opset());
  return fmt::format("bnfold has no kernel for {}", n.op_type());
}

}  // namespace bnfold::ops
