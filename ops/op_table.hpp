// Internal: the one table of ops. Each entry names an ONNX op and the opsets
// it implements, its reference kernel (a factory and the variant it makes,
// as data: which unary function, which binary operation...), the oneDNN
// lowering that may serve it, and its FLOP count where it dominates run
// time. Adding an op is one entry here and one kernel file; nothing below
// the table looks at op names.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/kernel.hpp"

namespace bnfold::ops {

// Element-wise functions of one tensor (ops/unary.cpp), in kUnary's order.
enum class UnaryOp : uint8_t {
  Relu, LeakyRelu, Elu, Celu, Selu, ThresholdedRelu, Sigmoid, HardSigmoid, HardSwish, Tanh, Softplus, Softsign,
  Exp, Log, Sqrt, Reciprocal, Abs, Neg, Sign, Floor, Ceil, Round, Erf, Sin, Cos, Tan, Asin, Acos, Atan, Sinh,
  Cosh, Asinh, Acosh, Atanh, Identity,
  Clip,     // clip(x, min, max): its own kernel (bounds from inputs or attributes)
  Dropout,  // inference: identity (its own kernel: ratio and training_mode checks)
};
// Broadcasting binary and variadic ops (ops/binary.cpp); comparisons last.
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Max, Min, Sum, Mean, PRelu, Equal, Less, Greater, LessOrEqual, GreaterOrEqual,
};
enum class PoolOp : uint8_t { MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool };
enum class ReduceOp : uint8_t { Mean, Sum, Max, Min, Prod, L1, L2, SumSquare, LogSumExp, LogSum };
enum class ReshapeOp : uint8_t { Flatten, Reshape, Squeeze, Unsqueeze };
enum class SoftmaxOp : uint8_t { Softmax, LogSoftmax };
enum class ResizeOp : uint8_t { Resize, Upsample };

// Which oneDNN builder may serve an op (runtime/dnnl/ maps each to one);
// None: the reference kernel always runs it.
enum class Lowering : uint8_t {
  None, Conv, ConvTranspose, Gemm, MatMul, BatchNorm, Pool, Softmax, Concat, Lrn, Reduce, Binary, Eltwise, LayerNorm,
  Quantize, Dequantize,  // with int8/uint8 data: not only float32
};

using KernelFactory = std::unique_ptr<OpKernel> (*)(const Node&, int variant);
// 2 x multiply-adds at the shapes the plan knows (for GFLOP/s figures).
using FlopCount = double (*)(const Node&, const InferContext&);

struct OpEntry {
  const char* op;
  int since;  // first opset version this kernel implements
  int until;  // last one
  KernelFactory make;
  int variant = 0;  // a UnaryOp, BinaryOp, ... for the factories that make several
  Lowering lowering = Lowering::None;
  FlopCount flops = nullptr;

  std::unique_ptr<OpKernel> kernel(const Node& n) const { return make(n, variant); }
  template <typename E>
  E as() const { return static_cast<E>(variant); }
};

// The entry for a node's op at its opset; nullptr when bnfold has none
// (other domains than ai.onnx included).
const OpEntry* find_op(const Node& n);
const OpEntry* find_op(const std::string& op, int64_t opset);
// Why a node has no kernel, for the error message.
std::string why_unsupported(const Node& n);
// Every entry, in the table's order (for tests and listings).
std::vector<const OpEntry*> all_ops();
// The entry when it has this lowering, else nullptr: what the oneDNN
// builders and the fusion planner ask of a neighbouring node.
const OpEntry* lowered_as(const Node& n, Lowering lowering);

}  // namespace bnfold::ops
