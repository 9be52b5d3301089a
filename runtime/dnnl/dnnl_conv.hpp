// Internal: the oneDNN step factories, one per op family.
#pragma once

#include "runtime/dnnl/dnnl_step.hpp"

namespace bnfold::rt {

bool build_conv(PlanBuilder& b, const Node& n, const InferContext& ctx, bool transposed);
bool build_gemm(PlanBuilder& b, const Node& n, const InferContext& ctx);
bool build_matmul(PlanBuilder& b, const Node& n, const InferContext& ctx);
bool build_batchnorm(PlanBuilder& b, const Node& n, const InferContext& ctx);
bool build_pool(PlanBuilder& b, const Node& n, const InferContext& ctx);
bool build_eltwise(PlanBuilder& b, const Node& n, const InferContext& ctx);
bool build_binary(PlanBuilder& b, const Node& n, const InferContext& ctx);
bool build_softmax(PlanBuilder& b, const Node& n, const InferContext& ctx);
bool build_concat(PlanBuilder& b, const Node& n, const InferContext& ctx);
bool build_lrn(PlanBuilder& b, const Node& n, const InferContext& ctx);
bool build_reduce(PlanBuilder& b, const Node& n, const InferContext& ctx);

}  // namespace bnfold::rt
