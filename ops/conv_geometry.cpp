#include "ops/conv_geometry.hpp"

namespace bnfold::ops {

namespace {

std::vector<int64_t> ints_or(const Node& n, const char* name, size_t count, int64_t fallback) {
  if (n.has_attr(name)) return n.attr_ints(name);
  return std::vector<int64_t>(count, fallback);
}

// What both geometries read alike: strides, dilations (or all 1) and pads,
// checked for rank and sign, and auto_pad.
WindowGeometry read_window(const InferContext& ctx, const std::vector<int64_t>& in_spatial,
                           const std::vector<int64_t>& kernel, bool use_dilations, std::string* auto_pad) {
  const Node& n = ctx.node();
  const size_t r = in_spatial.size();
  WindowGeometry g;
  g.in = in_spatial;
  g.kernel = kernel;
  g.stride = ints_or(n, "strides", r, 1);
  g.dilation = use_dilations ? ints_or(n, "dilations", r, 1) : std::vector<int64_t>(r, 1);
  const std::vector<int64_t> pads = ints_or(n, "pads", 2 * r, 0);
  BNFOLD_NODE_CHECK(ctx, kernel.size() == r && g.stride.size() == r && g.dilation.size() == r && pads.size() == 2 * r,
                    "kernel_shape/strides/dilations/pads do not match {} spatial dims", r);
  for (size_t k = 0; k < r; ++k)
    BNFOLD_NODE_CHECK(ctx, g.stride[k] > 0 && g.dilation[k] > 0 && kernel[k] > 0,
                      "strides, dilations and kernel must be positive");
  *auto_pad = n.has_attr("auto_pad") ? n.attr_string("auto_pad") : "NOTSET";
  g.pad_begin.assign(pads.begin(), pads.begin() + static_cast<int64_t>(r));
  g.pad_end.assign(pads.begin() + static_cast<int64_t>(r), pads.end());
  g.out.resize(r);
  return g;
}

// Window arithmetic in 128 bits: pads or strides near INT64_MAX must give an
// error, not a wrapped size (ONNX Runtime refuses them too).
int64_t fits(const InferContext& ctx, __int128 v, size_t axis) {
  BNFOLD_NODE_CHECK(ctx, v >= INT64_MIN / 4 && v <= INT64_MAX / 4,
                    "kernel_shape, strides, dilations and pads overflow the size of spatial axis {}", axis);
  return static_cast<int64_t>(v);
}

// auto_pad SAME_*: the output is ceil(in / stride) and the pads make it so.
void same_pads(const std::string& auto_pad, int64_t in, int64_t span, WindowGeometry* g, size_t k) {
  g->out[k] = (in + g->stride[k] - 1) / g->stride[k];
  const int64_t total = std::max<int64_t>(0, (g->out[k] - 1) * g->stride[k] + span - in);
  const int64_t small = total / 2;
  g->pad_begin[k] = auto_pad == "SAME_UPPER" ? small : total - small;
  g->pad_end[k] = total - g->pad_begin[k];
}

// Reads the window and resolves auto_pad; calls size(k, span, room) for each
// spatial axis with explicit pads (room = padded input - window span).
template <typename F>
WindowGeometry sized_window(const InferContext& ctx, const std::vector<int64_t>& in_spatial,
                            const std::vector<int64_t>& kernel, bool use_dilations, F&& size) {
  std::string auto_pad;
  WindowGeometry g = read_window(ctx, in_spatial, kernel, use_dilations, &auto_pad);
  BNFOLD_NODE_CHECK(ctx, auto_pad == "NOTSET" || auto_pad == "VALID" || auto_pad == "SAME_UPPER" ||
                             auto_pad == "SAME_LOWER",
                    "unknown auto_pad '{}'", auto_pad);
  for (size_t k = 0; k < in_spatial.size(); ++k) {
    const int64_t span = fits(ctx, static_cast<__int128>(kernel[k] - 1) * g.dilation[k] + 1, k);
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      same_pads(auto_pad, in_spatial[k], span, &g, k);
      continue;
    }
    if (auto_pad == "VALID") g.pad_begin[k] = g.pad_end[k] = 0;
    g.out[k] = size(g, k, span,
                    fits(ctx, static_cast<__int128>(in_spatial[k]) + g.pad_begin[k] + g.pad_end[k] - span, k));
  }
  return g;
}

}  // namespace

WindowGeometry conv_geometry(const InferContext& ctx, const std::vector<int64_t>& in_spatial,
                             const std::vector<int64_t>& kernel) {
  return sized_window(ctx, in_spatial, kernel, true, [&](const WindowGeometry& g, size_t k, int64_t span, int64_t room) {
    BNFOLD_NODE_CHECK(ctx, room >= 0, "the window ({}) is larger than the padded input ({}) on spatial axis {}",
                      span, room + span, k);
    return room / g.stride[k] + 1;
  });
}

WindowGeometry pool_geometry(const InferContext& ctx, const std::vector<int64_t>& in_spatial,
                             const std::vector<int64_t>& kernel, bool ceil_mode, bool use_dilations) {
  return sized_window(ctx, in_spatial, kernel, use_dilations,
                      [&](const WindowGeometry& g, size_t k, int64_t span, int64_t room) {
    const int64_t s = g.stride[k];
    // C++ division truncates toward zero, as ONNX Runtime's does.
    int64_t out = room / s + 1;
    if (ceil_mode) {
      out = (room > 0 ? (room + s - 1) / s : room / s) + 1;
      // The last window must start inside the input or the left padding.
      if ((out - 1) * s >= in_spatial[k] + g.pad_begin[k]) --out;
    }
    BNFOLD_NODE_CHECK(ctx, out >= 0, "the window ({}) is larger than the padded input ({}) on spatial axis {}",
                      span, room + span, k);
    return out;
  });
}

WindowGeometry transposed_geometry(const InferContext& ctx, const std::vector<int64_t>& in_spatial,
                                   const std::vector<int64_t>& kernel, std::vector<int64_t>* output_padding) {
  const Node& n = ctx.node();
  const size_t r = in_spatial.size();
  std::string auto_pad;
  WindowGeometry g = read_window(ctx, in_spatial, kernel, true, &auto_pad);
  *output_padding = ints_or(n, "output_padding", r, 0);
  BNFOLD_NODE_CHECK(ctx, output_padding->size() == r, "output_padding does not match {} spatial dims", r);
  std::vector<int64_t> out_shape;
  if (n.has_attr("output_shape")) {
    out_shape = n.attr_ints("output_shape");
    if (out_shape.size() == r + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    BNFOLD_NODE_CHECK(ctx, out_shape.size() == r, "output_shape has {} dims for {} spatial dims",
                      out_shape.size(), r);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t k = 0; k < r; ++k) out_shape.push_back(in_spatial[k] * g.stride[k]);
  }
  for (size_t k = 0; k < r; ++k) {
    const int64_t span = fits(ctx, static_cast<__int128>(kernel[k] - 1) * g.dilation[k] + 1, k);
    const int64_t full =
        fits(ctx, static_cast<__int128>(g.stride[k]) * (in_spatial[k] - 1) + (*output_padding)[k] + span, k);
    if (!out_shape.empty()) {
      const int64_t total = fits(ctx, static_cast<__int128>(full) - out_shape[k], k);
      // Python's floor division, as ONNX's reference: a negative total (an
      // output_shape larger than the natural size) extends the end.
      const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      if (auto_pad == "SAME_UPPER") {
        g.pad_begin[k] = half;
        g.pad_end[k] = total - half;
      } else {
        g.pad_begin[k] = total - half;
        g.pad_end[k] = half;
      }
    }
    g.out[k] = fits(ctx, static_cast<__int128>(full) - g.pad_begin[k] - g.pad_end[k], k);
    BNFOLD_NODE_CHECK(ctx, g.out[k] > 0, "the output size on spatial axis {} would be {}", k, g.out[k]);
  }
  return g;
}

WindowGeometry as_3d(const WindowGeometry& g) {
  WindowGeometry o = g;
  while (o.in.size() < 3) {
    for (auto* v : {&o.in, &o.kernel, &o.stride, &o.dilation, &o.out}) v->insert(v->begin(), 1);
    o.pad_begin.insert(o.pad_begin.begin(), 0);
    o.pad_end.insert(o.pad_end.begin(), 0);
  }
  return o;
}

}  // namespace bnfold::ops
