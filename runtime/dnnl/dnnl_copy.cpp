// Transpose, Slice and Split (and any kernel whose DataMovement is a Copy)
// as oneDNN reorders: the source seen through a permuted or sub-memory
// descriptor (a strided one for Slice's positive steps, on a plain source),
// in its own layout where oneDNN can, copied into a plain output.
#include "runtime/dnnl/dnnl_builders.hpp"

namespace bnfold::rt {

namespace {

// Source descriptors for every present output of n, over a source in layout
// `src`; throws dnnl::error where oneDNN cannot describe one (a sub-memory
// that cuts through a channel block, say).
std::vector<dnnl::memory::desc> source_views(const Node& n, const InferContext& ctx, const DataMovement& mv,
                                             const dnnl::memory::desc& src) {
  std::vector<dnnl::memory::desc> views;
  for (size_t k = 0; k < ctx.num_outputs(); ++k) {
    if (!n.output(k)) {
      views.emplace_back();
      continue;
    }
    const auto& out = ctx.outputs()[k].dims;
    if (!mv.perm.empty()) {
      // Output axis j is input axis perm[j]: permute_axes moves input axis i to perm^-1[i].
      std::vector<int> inverse(mv.perm.size());
      for (size_t j = 0; j < mv.perm.size(); ++j) inverse[static_cast<size_t>(mv.perm[j])] = static_cast<int>(j);
      views.push_back(src.permute_axes(inverse));
    } else if (!mv.step.empty()) {
      // The box the steps span, then each stepped axis with its count and a
      // longer stride (a plain source: strides are elements).
      dims_t span(out.size());
      for (size_t a = 0; a < out.size(); ++a) span[a] = out[a] == 0 ? 0 : (out[a] - 1) * mv.step[a] + 1;
      dnnl::memory::desc v = src.submemory_desc(span, dims_t(mv.start[k].begin(), mv.start[k].end()));
      for (size_t a = 0; a < out.size(); ++a) {
        if (mv.step[a] == 1) continue;
        v.data.dims[a] = v.data.padded_dims[a] = out[a];
        v.data.format_desc.blocking.strides[a] *= mv.step[a];
      }
      views.push_back(v);
    } else {
      views.push_back(src.submemory_desc(dims_t(out.begin(), out.end()),
                                         dims_t(mv.start[k].begin(), mv.start[k].end())));
    }
  }
  return views;
}

}  // namespace

bool build_copy(PlanBuilder& b, const Node& n, const InferContext& ctx, const DataMovement& mv) {
  if (mv.start.size() != ctx.num_outputs()) return false;
  int s = input_slot(b, n, 0);
  if (!mv.step.empty() && !b.slot(s).plain) s = b.in_layout(s, plain_md(b.slot(s).dims));  // strides are elements
  std::vector<dnnl::memory::desc> views;
  try {
    views = source_views(n, ctx, mv, b.layout(s));
  } catch (const dnnl::error&) {
    if (b.slot(s).plain) throw;
    s = b.in_layout(s, plain_md(b.slot(s).dims));  // a blocked layout that the view cuts through
    views = source_views(n, ctx, mv, b.layout(s));
  }
  std::vector<std::unique_ptr<dnnl::reorder::primitive_desc>> pds;
  for (size_t k = 0; k < views.size(); ++k)
    pds.push_back(n.output(k) ? std::make_unique<dnnl::reorder::primitive_desc>(
                                    dnnl_engine(), views[k], dnnl_engine(), plain_md(ctx.outputs()[k].dims),
                                    scratch_attr())
                              : nullptr);
  // Every primitive exists: now change the plan.
  for (size_t k = 0; k < views.size(); ++k) {
    if (!pds[k]) continue;
    const int dst = b.define(n.output(k), DType::Float32, ctx.outputs()[k].dims, nullptr);
    auto step = step_for(b, n, *pds[k]);
    step->arg(DNNL_ARG_FROM, s, views[k]);
    step->arg(DNNL_ARG_TO, dst, plain_md(ctx.outputs()[k].dims));
    b.add_step(std::move(step));
  }
  return true;
}

}  // namespace bnfold::rt
