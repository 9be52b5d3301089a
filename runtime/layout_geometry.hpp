// Internal: where the elements of an [N, C, spatial...] float32 tensor lie in
// the layouts oneDNN leaves (plain NCHW, channels-last, nChw8c/16c), for the
// runtime's own vectorized loops that read a tensor where it is, without a
// reorder (BN statistics taps, Concat with a per-channel affine).
#pragma once

#include <cstdint>
#include <dnnl.hpp>
#include <vector>

namespace bnfold::rt {

// Element (n, c, p), p over the flattened spatial dims, is at
// n * n_stride + (c / block) * block_stride + p * p_stride + c % block.
struct Geometry {
  enum class Kind { Planar, ChannelsLast, Blocked };
  Kind kind = Kind::Planar;
  int64_t N = 0, C = 0, S = 1;
  int64_t block = 1;  // channels that sit next to each other (C for channels-last)
  int64_t n_stride = 0, block_stride = 0, p_stride = 0;
};

// False for layouts it does not describe (other blockings, non-f32, an
// offset, spatial dims that do not flatten to one stride).
bool describe_layout(const dnnl::memory::desc& md, const std::vector<int64_t>& dims, Geometry* g);

}  // namespace bnfold::rt
