// oneDNN's concat, in the inputs' own (possibly blocked) layouts.
#include "runtime/dnnl/dnnl_builders.hpp"
#include "ops/op_util.hpp"

namespace bnfold::rt {

using dnnl::algorithm;
using dnnl::prop_kind;

bool build_concat(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
  const auto& out = ctx.outputs()[0].dims;
  int64_t axis = n.attr_int("axis");
  if (axis < 0) axis += static_cast<int64_t>(out.size());
  std::vector<dnnl::memory::desc> mds;
  std::vector<int> slots;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (product(ctx.dims(i)) == 0) return false;
    slots.push_back(input_slot(b, n, i));
    mds.push_back(b.layout(slots.back()));
  }
  dnnl::concat::primitive_desc pd(static_cast<int>(axis), mds, dnnl_engine(), scratch_attr());
  const auto dst_md = pd.dst_desc();
  const int dst = b.define(n.output(0), DType::Float32, out, &dst_md);
  auto step = step_for(b, n, pd);
  for (size_t i = 0; i < slots.size(); ++i) step->arg(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), slots[i], mds[i]);
  step->arg(DNNL_ARG_DST, dst, dst_md);
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
