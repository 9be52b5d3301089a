// The kernel table: every op bnfold runs, the opsets it implements, and the
// factory of its reference kernel (oneDNN kernels are chosen by the planner
// on top of these, see runtime/dnnl/).
#include <fmt/format.h>

#include "ops/ops.hpp"

namespace bnfold::rt {

namespace {

constexpr int kMax = 17;  // the newest opset bnfold implements

const OpEntry kOps[] = {
    // activations and element-wise math
    {"Relu", 1, kMax, make_unary},         {"LeakyRelu", 1, kMax, make_unary},
    {"Elu", 1, kMax, make_unary},          {"Celu", 12, kMax, make_unary},
    {"Selu", 1, kMax, make_unary},         {"ThresholdedRelu", 10, kMax, make_unary},
    {"Sigmoid", 1, kMax, make_unary},      {"HardSigmoid", 1, kMax, make_unary},
    {"HardSwish", 14, kMax, make_unary},   {"Tanh", 1, kMax, make_unary},
    {"Softplus", 1, kMax, make_unary},     {"Softsign", 1, kMax, make_unary},
    {"Exp", 1, kMax, make_unary},          {"Log", 1, kMax, make_unary},
    {"Sqrt", 1, kMax, make_unary},         {"Reciprocal", 1, kMax, make_unary},
    {"Abs", 1, kMax, make_unary},          {"Neg", 1, kMax, make_unary},
    {"Sign", 9, kMax, make_unary},         {"Floor", 1, kMax, make_unary},
    {"Ceil", 1, kMax, make_unary},         {"Round", 11, kMax, make_unary},
    {"Erf", 9, kMax, make_unary},          {"Sin", 7, kMax, make_unary},
    {"Cos", 7, kMax, make_unary},          {"Tan", 7, kMax, make_unary},
    {"Asin", 7, kMax, make_unary},         {"Acos", 7, kMax, make_unary},
    {"Atan", 7, kMax, make_unary},         {"Sinh", 9, kMax, make_unary},
    {"Cosh", 9, kMax, make_unary},         {"Asinh", 9, kMax, make_unary},
    {"Acosh", 9, kMax, make_unary},        {"Atanh", 9, kMax, make_unary},
    {"Identity", 1, kMax, make_unary},     {"Clip", 1, kMax, make_clip},
    {"Dropout", 1, kMax, make_dropout},
    // broadcasting binary and variadic ops
    {"Add", 1, kMax, make_binary},         {"Sub", 1, kMax, make_binary},
    {"Mul", 1, kMax, make_binary},         {"Div", 1, kMax, make_binary},
    {"Pow", 1, kMax, make_binary},         {"Max", 1, kMax, make_binary},
    {"Min", 1, kMax, make_binary},         {"Sum", 1, kMax, make_binary},
    {"Mean", 1, kMax, make_binary},        {"PRelu", 1, kMax, make_binary},
    {"Equal", 1, kMax, make_binary},       {"Less", 1, kMax, make_binary},
    {"Greater", 1, kMax, make_binary},     {"LessOrEqual", 12, kMax, make_binary},
    {"GreaterOrEqual", 12, kMax, make_binary},
    // neural network layers
    {"Conv", 1, kMax, make_conv},          {"ConvTranspose", 1, kMax, make_conv_transpose},
    {"Gemm", 1, kMax, make_gemm},          {"MatMul", 1, kMax, make_matmul},
    {"BatchNormalization", 1, kMax, make_batchnorm},
    {"MaxPool", 1, kMax, make_pool},       {"AveragePool", 1, kMax, make_pool},
    {"GlobalMaxPool", 1, kMax, make_pool}, {"GlobalAveragePool", 1, kMax, make_pool},
    {"LRN", 1, kMax, make_lrn},            {"Softmax", 1, kMax, make_softmax},
    {"LogSoftmax", 1, kMax, make_softmax},
    {"ReduceMean", 1, kMax, make_reduce},  {"ReduceSum", 1, kMax, make_reduce},
    {"ReduceMax", 1, kMax, make_reduce},   {"ReduceMin", 1, kMax, make_reduce},
    {"ReduceProd", 1, kMax, make_reduce},  {"ReduceL1", 1, kMax, make_reduce},
    {"ReduceL2", 1, kMax, make_reduce},    {"ReduceSumSquare", 1, kMax, make_reduce},
    {"ReduceLogSumExp", 1, kMax, make_reduce},
    // shapes and data movement
    {"Shape", 1, kMax, make_shape},        {"Size", 1, kMax, make_size},
    {"Flatten", 1, kMax, make_reshaping},  {"Reshape", 1, kMax, make_reshaping},
    {"Squeeze", 1, kMax, make_reshaping},  {"Unsqueeze", 1, kMax, make_reshaping},
    {"Transpose", 1, kMax, make_data_op},  {"Concat", 1, kMax, make_data_op},
    {"Split", 1, kMax, make_data_op},      {"Slice", 1, kMax, make_data_op},
    {"Gather", 1, kMax, make_data_op},     {"Expand", 8, kMax, make_data_op},
    {"Pad", 1, kMax, make_data_op},        {"ConstantOfShape", 9, kMax, make_data_op},
    {"Cast", 1, kMax, make_data_op},
    {"Resize", 10, kMax, make_resize},     {"Upsample", 7, 9, make_resize},
};

}  // namespace

const OpEntry* find_op(const std::string& op, int64_t opset) {
  for (const OpEntry& e : kOps)
    if (op == e.op && opset >= e.since && opset <= e.until) return &e;
  return nullptr;
}

std::string why_unsupported(const std::string& op, int64_t opset) {
  for (const OpEntry& e : kOps)
    if (op == e.op)
      return fmt::format("{} is implemented for opsets {} to {}, the model uses opset {}", op, e.since, e.until,
                         opset);
  return fmt::format("bnfold has no kernel for {}", op);
}

}  // namespace bnfold::rt
