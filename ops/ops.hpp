// Internal: the factories of the reference kernels (one file per op family)
// and the kernel table that maps (op, opset) to them.
#pragma once

#include <memory>
#include <string>

#include "ops/kernel.hpp"

namespace bnfold::rt {

using KernelFactory = std::unique_ptr<OpKernel> (*)(const Node&);

struct OpEntry {
  const char* op;
  int since;  // first opset version this kernel implements
  int until;  // last one
  KernelFactory make;
};

// The entry for a node's op at its opset; nullptr when bnfold has none.
const OpEntry* find_op(const std::string& op, int64_t opset);
// Why a node has no kernel, for the error message.
std::string why_unsupported(const std::string& op, int64_t opset);

std::unique_ptr<OpKernel> make_unary(const Node&);
std::unique_ptr<OpKernel> make_clip(const Node&);
std::unique_ptr<OpKernel> make_dropout(const Node&);
std::unique_ptr<OpKernel> make_binary(const Node&);
std::unique_ptr<OpKernel> make_shape(const Node&);
std::unique_ptr<OpKernel> make_size(const Node&);
std::unique_ptr<OpKernel> make_reshaping(const Node&);
std::unique_ptr<OpKernel> make_data_op(const Node&);
std::unique_ptr<OpKernel> make_conv(const Node&);
std::unique_ptr<OpKernel> make_conv_transpose(const Node&);
std::unique_ptr<OpKernel> make_pool(const Node&);
std::unique_ptr<OpKernel> make_lrn(const Node&);
std::unique_ptr<OpKernel> make_gemm(const Node&);
std::unique_ptr<OpKernel> make_matmul(const Node&);
std::unique_ptr<OpKernel> make_batchnorm(const Node&);
std::unique_ptr<OpKernel> make_softmax(const Node&);
std::unique_ptr<OpKernel> make_reduce(const Node&);
std::unique_ptr<OpKernel> make_resize(const Node&);

// Per-channel (axis 1) mean and biased variance of x.
void batch_moments(const Tensor& x, std::vector<double>* mean, std::vector<double>* var);

// Converts any numeric tensor into out's dtype (numpy astype semantics).
void cast_into(const Tensor& in, Tensor* out);

}  // namespace bnfold::rt
