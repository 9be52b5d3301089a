// Which oneDNN builder serves each Lowering of the op table: the only place
// that connects ops/ to runtime/dnnl/.
#include "runtime/dnnl/dnnl_builders.hpp"
#include "runtime/dnnl/dnnl_int8.hpp"

namespace bnfold::rt {

namespace {

struct Row {
  Lowering lowering;
  DnnlBuilder build;
};

const Row kBuilders[] = {
    {Lowering::Conv, build_conv},       {Lowering::ConvTranspose, build_conv}, {Lowering::Gemm, build_gemm},
    {Lowering::MatMul, build_matmul},   {Lowering::BatchNorm, build_batchnorm}, {Lowering::Pool, build_pool},
    {Lowering::Softmax, build_softmax}, {Lowering::Concat, build_concat},     {Lowering::Lrn, build_lrn},
    {Lowering::Reduce, build_reduce},   {Lowering::Binary, build_binary},     {Lowering::Eltwise, build_eltwise},
    {Lowering::LayerNorm, build_layer_norm}, {Lowering::Quantize, build_quantize},
    {Lowering::Dequantize, build_dequantize},
};

}  // namespace

bool build_dnnl_step(PlanBuilder& b, const OpEntry& entry, const Node& node, const InferContext& ctx) {
  for (const Row& r : kBuilders)
    if (r.lowering == entry.lowering) return r.build(b, entry, node, ctx);
  return false;  // Lowering::None: the reference kernel
}

}  // namespace bnfold::rt
