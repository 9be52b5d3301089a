// oneDNN's concat, in the inputs' own (possibly blocked) layouts.
#include "runtime/dnnl/dnnl_builders.hpp"
#include <string>

#include "ops/op_util.hpp"

namespace bnfold::rt {

using dnnl::algorithm;
using dnnl::prop_kind;

// The inputs' layouts to concatenate in: their own when oneDNN has a fast
// concat for them, else all in the first input's format, else all plain
// (oneDNN's concat of mixed layouts, or of channel blocks that a size not a
// multiple of the block cuts, is its ref:any).
bool build_concat(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
  const auto& out = ctx.outputs()[0].dims;
  int64_t axis = n.attr_int("axis");
  if (axis < 0) axis += static_cast<int64_t>(out.size());
  std::vector<int> slots;
  std::vector<dnnl::memory::desc> own, alike, plain;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (product(ctx.dims(i)) == 0) return false;
    slots.push_back(input_slot(b, n, i));
    own.push_back(b.layout(slots.back()));
    alike.push_back(same_format_md(own.front(), ctx.dims(i)));
    plain.push_back(plain_md(ctx.dims(i)));
  }
  std::unique_ptr<dnnl::concat::primitive_desc> pd;
  const std::vector<dnnl::memory::desc>* chosen = nullptr;
  for (const auto* mds : {&own, &alike, &plain}) {
    auto candidate = std::make_unique<dnnl::concat::primitive_desc>(static_cast<int>(axis), *mds, dnnl_engine(),
                                                                    scratch_attr());
    chosen = mds;
    pd = std::move(candidate);
    if (std::string(pd->impl_info_str()).rfind("ref", 0) != 0) break;
  }
  // The primitive exists: now change the plan.
  for (size_t i = 0; i < slots.size(); ++i) slots[i] = b.in_layout(slots[i], (*chosen)[i]);
  const auto dst_md = pd->dst_desc();
  const int dst = b.define(n.output(0), DType::Float32, out, &dst_md);
  auto step = step_for(b, n, *pd);
  for (size_t i = 0; i < slots.size(); ++i)
    step->arg(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), slots[i], (*chosen)[i]);
  step->arg(DNNL_ARG_DST, dst, dst_md);
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
