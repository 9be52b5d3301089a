#include "runtime/layout_geometry.hpp"

namespace bnfold::rt {

bool describe_layout(const dnnl::memory::desc& md, const std::vector<int64_t>& dims, Geometry* g) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked || d.data_type != dnnl_f32 || d.offset0 != 0 || d.ndims < 2) return false;
  if (static_cast<size_t>(d.ndims) != dims.size()) return false;
  const auto& b = d.format_desc.blocking;
  *g = Geometry();
  g->N = dims[0];
  g->C = dims[1];
  for (size_t k = 2; k < dims.size(); ++k) g->S *= dims[k];
  g->n_stride = b.strides[0];
  if (b.inner_nblks == 1 && b.inner_idxs[0] == 1) {  // nChw8c, nChw16c: blocks of channels
    g->kind = Geometry::Kind::Blocked;
    g->block = b.inner_blks[0];
    g->block_stride = b.strides[1];
    g->p_stride = g->block;
  } else if (b.inner_nblks == 0 && b.strides[1] == 1) {  // channels last (and [N, C])
    g->kind = Geometry::Kind::ChannelsLast;
    g->block = g->C;
    g->block_stride = 0;
    g->p_stride = g->C;
  } else if (b.inner_nblks == 0) {  // NCHW: each (n, c) one contiguous run
    g->kind = Geometry::Kind::Planar;
    g->block = 1;
    g->block_stride = b.strides[1];
    g->p_stride = 1;
  } else {
    return false;
  }
  // The spatial dims must flatten to one stride: dense and row-major.
  int64_t expect = g->p_stride;
  for (int k = d.ndims - 1; k >= 2; --k) {
    if (b.strides[k] != expect && dims[static_cast<size_t>(k)] > 1) return false;
    expect *= dims[static_cast<size_t>(k)];
  }
  return true;
}

}  // namespace bnfold::rt
