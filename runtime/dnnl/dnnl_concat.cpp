// oneDNN's concat, in the inputs' own (possibly blocked) layouts.
#include "runtime/dnnl/dnnl_builders.hpp"
#include "runtime/dnnl/impl_choice.hpp"
#include <fmt/format.h>

#include <string>
#include <vector>

#include "ops/op_util.hpp"

namespace bnfold::rt {

using dnnl::algorithm;
using dnnl::prop_kind;

namespace {

// Each input is one reorder into its box of the output, where that is faster
// than oneDNN 2.6's concat primitive (simple:any). Measured on 2 threads,
// AVX-512: along an outer axis (nChw16c, plain NCHW) the primitive is 3-19x
// slower (googlenet's 1x{64,128,32,32}x28x28 0.17 ms against 0.011 ms as
// four reorders); along the innermost axis (channels-last) it is faster on
// small outputs (densenet's 1x992x7x7: 0.008 against 0.018 ms, each reorder
// costs a few microseconds) and 2.5x slower on large ones (8x192x56x56:
// 1.36 against 0.54 ms), about even near 2-4 MB. Returns the boxes, or an
// empty list where the primitive stays (those small outputs, an offset that
// cuts a channel block, an opaque layout).
std::vector<dnnl::memory::desc> output_boxes(const dnnl::memory::desc& dst, int axis,
                                             const std::vector<dnnl::memory::desc>& srcs) {
  const auto& d = dst.data;
  if (d.format_kind != dnnl_blocked) return {};
  constexpr size_t kInnermostCopiesFrom = 4u << 20;
  if (d.format_desc.blocking.strides[axis] == 1 && dst.get_size() < kInnermostCopiesFrom) return {};
  std::vector<dnnl::memory::desc> boxes;
  dims_t offsets(static_cast<size_t>(d.ndims), 0);
  try {
    for (const auto& src : srcs) {
      boxes.push_back(dst.submemory_desc(src.dims(), offsets));
      offsets[static_cast<size_t>(axis)] += src.dims()[static_cast<size_t>(axis)];
    }
  } catch (const dnnl::error&) {
    return {};
  }
  return boxes;
}

// Whether an input's box of the output holds its bytes exactly as the
// input's own layout md lays them out: then what computes the input can write
// into the box, and no copy is needed. So it is for a channel Concat of one
// sample in NCHW or nChw16c/8c at channel offsets that are multiples of the
// block (googlenet's at batch 1), or along the outermost axis.
bool box_is_dense(const dnnl::memory::desc& box, const dnnl::memory::desc& md) {
  const auto& a = box.data;
  const auto& b = md.data;
  if (a.format_kind != dnnl_blocked || b.format_kind != dnnl_blocked || a.ndims != b.ndims || b.offset0 != 0 ||
      a.data_type != b.data_type)
    return false;
  const auto& ab = a.format_desc.blocking;
  const auto& bb = b.format_desc.blocking;
  if (ab.inner_nblks != bb.inner_nblks) return false;
  for (int k = 0; k < ab.inner_nblks; ++k)
    if (ab.inner_blks[k] != bb.inner_blks[k] || ab.inner_idxs[k] != bb.inner_idxs[k]) return false;
  size_t elements = 1;
  for (int k = 0; k < a.ndims; ++k) {
    if (a.dims[k] != b.dims[k] || a.padded_dims[k] != b.padded_dims[k]) return false;
    if (a.padded_dims[k] > 1 && ab.strides[k] != bb.strides[k]) return false;
    elements *= static_cast<size_t>(b.padded_dims[k]);
  }
  return md.get_size() == elements * dnnl::memory::data_type_size(md.data_type());  // md itself dense
}

}  // namespace

// The inputs' layouts to concatenate in: their own when oneDNN has a fast
// concat for them, else all in the first input's format, else all plain
// (oneDNN's concat of mixed layouts, or of channel blocks that a size not a
// multiple of the block cuts, is its ref:any).
bool build_concat(PlanBuilder& b, const OpEntry&, const Node& n, const InferContext& ctx) {
  if (build_concat_affine(b, n, ctx)) return true;
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
    std::unique_ptr<dnnl::concat::primitive_desc> candidate;
    try {
      candidate = std::make_unique<dnnl::concat::primitive_desc>(static_cast<int>(axis), *mds, dnnl_engine(),
                                                                 scratch_attr());
    } catch (const dnnl::error&) {
      continue;  // inputs of two data types (bf16 and f32 under Precision::BFloat16): the plain f32 ones then
    }
    chosen = mds;
    pd = std::move(candidate);
    if (optimized(impl_kind(pd->impl_info_str()))) break;
  }
  if (!pd) return false;
  const auto dst_md = pd->dst_desc();
  const auto boxes = output_boxes(dst_md, static_cast<int>(axis), *chosen);
  std::vector<std::unique_ptr<dnnl::reorder::primitive_desc>> copies;
  for (size_t i = 0; i < boxes.size(); ++i)
    copies.push_back(std::make_unique<dnnl::reorder::primitive_desc>(dnnl_engine(), (*chosen)[i], dnnl_engine(),
                                                                     boxes[i], scratch_attr()));
  // The primitives exist: now change the plan.
  for (size_t i = 0; i < slots.size(); ++i) slots[i] = b.in_layout(slots[i], (*chosen)[i]);
  const int dst = b.define(n.output(0), DType::Float32, out, &dst_md);
  if (!copies.empty()) {
    for (size_t i = 0; i < copies.size(); ++i) {
      // Written in place by its producer: no copy.
      if (box_is_dense(boxes[i], (*chosen)[i]) &&
          b.into_box(slots[i], dst,
                     static_cast<size_t>(boxes[i].data.offset0) * dnnl::memory::data_type_size(dst_md.data_type())))
        continue;
      auto step = step_for(b, n, *copies[i], fmt::format(" (input {} of {})", i + 1, copies.size()));
      step->arg(DNNL_ARG_FROM, slots[i], (*chosen)[i]);
      step->arg(DNNL_ARG_TO, dst, boxes[i]);
      b.add_step(std::move(step));
    }
    return true;
  }
  auto step = step_for(b, n, *pd);
  for (size_t i = 0; i < slots.size(); ++i)
    step->arg(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), slots[i], (*chosen)[i]);
  step->arg(DNNL_ARG_DST, dst, dst_md);
  b.add_step(std::move(step));
  return true;
}

}  // namespace bnfold::rt
