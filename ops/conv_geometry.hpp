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

// Conv output sizes (kernel: spatial kernel dims). A window larger than the
// padded input is refused, as ONNX Runtime refuses it.
WindowGeometry conv_geometry(const InferContext& ctx, const std::vector<int64_t>& in_spatial,
                             const std::vector<int64_t>& kernel);

// MaxPool / AveragePool output sizes, rounded as ONNX Runtime rounds them (the
// docs/onnx-import.md, "Where bnfold follows ONNX Runtime"): out = trunc(room / stride) + 1
// with room = input + pads - window, so a window larger than the padded input
// still gives one output where room > -stride; with ceil_mode,
// ceil(room / stride) + 1, less one when the last window would start in the
// right padding. An output size of 0 is allowed (an empty tensor), a negative
// one refused. use_dilations=false for ops without the attribute.
WindowGeometry pool_geometry(const InferContext& ctx, const std::vector<int64_t>& in_spatial,
                             const std::vector<int64_t>& kernel, bool ceil_mode, bool use_dilations);

// ConvTranspose: also resolves output_shape / output_padding into pads.
WindowGeometry transposed_geometry(const InferContext& ctx, const std::vector<int64_t>& in_spatial,
                                   const std::vector<int64_t>& kernel, std::vector<int64_t>* output_padding);

// The same geometry padded to 3 spatial dims (size-1 dims in front), so one
// loop nest serves 1D, 2D and 3D.
WindowGeometry as_3d(const WindowGeometry& g);

}  // namespace bnfold::ops
