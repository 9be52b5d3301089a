// Internal: the window geometry shared by Conv, ConvTranspose and pooling
// (kernel, strides, dilations, pads after auto_pad, output size), computed once
// when the plan is built and reused by the reference and oneDNN kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/kernel.hpp"

namespace bnfold::ops {

struct WindowGeometry {
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end, out;  // spatial dims only
};

// Conv / pooling output sizes. kernel: spatial kernel dims; ceil_mode for pooling.
// use_dilations=false for ops without the attribute (AveragePool before opset 19).
WindowGeometry window_geometry(const InferContext& ctx, const std::vector<int64_t>& in_spatial,
                               const std::vector<int64_t>& kernel, bool ceil_mode, bool use_dilations);

// ConvTranspose: also resolves output_shape / output_padding into pads.
WindowGeometry transposed_geometry(const InferContext& ctx, const std::vector<int64_t>& in_spatial,
                                   const std::vector<int64_t>& kernel, std::vector<int64_t>* output_padding);

// The same geometry padded to 3 spatial dims (size-1 dims in front), so one
// loop nest serves 1D, 2D and 3D.
WindowGeometry as_3d(const WindowGeometry& g);

}  // namespace bnfold::ops
