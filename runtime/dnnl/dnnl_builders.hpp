// Internal: the oneDNN step builders, one per Lowering of the op table
// (dnnl_table.cpp maps them). Each returns false, changing nothing, for a
// case it does not cover; the reference kernel then runs it.
#pragma once

#include "runtime/dnnl/dnnl_step.hpp"

namespace bnfold::rt {

using DnnlBuilder = bool (*)(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);

bool build_conv(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);  // also ConvTranspose
bool build_gemm(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
bool build_matmul(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
bool build_batchnorm(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
bool build_pool(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
bool build_eltwise(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
bool build_binary(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
bool build_softmax(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
bool build_layer_norm(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
bool build_concat(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
// A channel Concat and the per-channel affine (+ ReLU/Clip) after it as one
// step of bnfold's own (runtime/concat_affine.cpp); false when that does not apply.
bool build_concat_affine(PlanBuilder& b, const Node& n, const InferContext& ctx);
// Add/Sub/Mul/Div of input `full` (the output's dims) and the other input
// broadcast over any dims, as bnfold's own loop (runtime/broadcast_binary.cpp):
// where oneDNN offers only its reference kernel.
bool build_broadcast_binary(PlanBuilder& b, const Node& n, BinaryOp op, size_t full, const InferContext& ctx);
bool build_lrn(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);
bool build_reduce(PlanBuilder& b, const OpEntry& e, const Node& n, const InferContext& ctx);

}  // namespace bnfold::rt
