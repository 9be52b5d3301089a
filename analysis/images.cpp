// Images as samples: decoded with stb, resized and centre-cropped as
// torchvision's Resize + CenterCrop, normalized per channel.
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <cmath>
#include <cstring>

#include "analysis/dataset_impl.hpp"
#include "bnfold/graph/shape.hpp"

namespace bnfold {

namespace {

// ImageNet-style preprocessing as torchvision does it: Resize(S) makes the
// shorter side S (the other int(S * long / short)), CenterCrop rounds the
// top-left corner.
struct Geometry {
  int rw, rh, x0, y0;
};
Geometry image_geometry(const std::string& path, int iw, int ih, int64_t w, int64_t h, int64_t shorter) {
  if (shorter <= 0) return {static_cast<int>(w), static_cast<int>(h), 0, 0};
  Geometry g{};
  if (iw <= ih) {
    g.rw = static_cast<int>(shorter);
    g.rh = static_cast<int>(static_cast<double>(shorter) * ih / iw);
  } else {
    g.rh = static_cast<int>(shorter);
    g.rw = static_cast<int>(static_cast<double>(shorter) * iw / ih);
  }
  BNFOLD_CHECK(g.rw >= w && g.rh >= h, ErrorCode::InvalidArgument,
               "{}: resized to {}x{} (shorter side {}) it is smaller than the {}x{} crop the model takes", path,
               g.rh, g.rw, shorter, h, w);
  g.x0 = static_cast<int>(std::lround((g.rw - w) / 2.0));
  g.y0 = static_cast<int>(std::lround((g.rh - h) / 2.0));
  return g;
}

}  // namespace

Tensor read_image(const std::string& path, const DataOptions& o) {
  BNFOLD_CHECK(o.sample_dims.size() == 3, ErrorCode::InvalidArgument,
               "{}: images need a model input of [N, C, H, W]; this model's sample is {}", path,
               Shape::of(o.sample_dims).str());
  const int64_t c = o.sample_dims[0], h = o.sample_dims[1], w = o.sample_dims[2];
  BNFOLD_CHECK(c == 1 || c == 3, ErrorCode::InvalidArgument, "{}: the model takes {} channels; images give 1 or 3",
               path, c);
  int iw = 0, ih = 0, ic = 0;
  unsigned char* px = stbi_load(path.c_str(), &iw, &ih, &ic, static_cast<int>(c));
  BNFOLD_CHECK(px != nullptr, ErrorCode::InvalidArgument, "{}: cannot decode the image: {}", path,
               stbi_failure_reason());
  Geometry geo{};
  try {
    geo = image_geometry(path, iw, ih, w, h, o.resize_shorter);
  } catch (...) {
    stbi_image_free(px);
    throw;
  }
  std::vector<unsigned char> scaled(static_cast<size_t>(geo.rw) * static_cast<size_t>(geo.rh) * static_cast<size_t>(c));
  int ok = 1;
  if (iw == geo.rw && ih == geo.rh) {  // the resampling filter is not the identity even at the same size
    std::memcpy(scaled.data(), px, scaled.size());
  } else {
    ok = stbir_resize_uint8(px, iw, ih, 0, scaled.data(), geo.rw, geo.rh, 0, static_cast<int>(c));
  }
  stbi_image_free(px);
  BNFOLD_CHECK(ok, ErrorCode::Internal, "{}: resizing failed", path);
  std::vector<unsigned char> resized(static_cast<size_t>(w * h * c));
  for (int64_t y = 0; y < h; ++y)
    std::memcpy(resized.data() + static_cast<size_t>(y * w * c),
                scaled.data() + (static_cast<size_t>(geo.y0 + y) * static_cast<size_t>(geo.rw) + static_cast<size_t>(geo.x0)) *
                                    static_cast<size_t>(c),
                static_cast<size_t>(w * c));
  Tensor t(DType::Float32, o.sample_dims);
  float* p = t.mutable_data_as<float>();
  for (int64_t ch = 0; ch < c; ++ch) {
    const int64_t src = o.bgr && c == 3 ? 2 - ch : ch;
    const float m = o.mean[static_cast<size_t>(ch) % o.mean.size()], s = o.std[static_cast<size_t>(ch) % o.std.size()];
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        p[(ch * h + y) * w + x] = (static_cast<float>(resized[static_cast<size_t>((y * w + x) * c + src)]) / 255.f - m) / s;
  }
  return t;
}

void check_image_fits(const std::string& path, int iw, int ih, const DataOptions& o) {
  BNFOLD_CHECK(o.sample_dims.size() == 3, ErrorCode::InvalidArgument,
               "{}: images need a model input of [N, C, H, W]; this model's sample is {}", path,
               Shape::of(o.sample_dims).str());
  image_geometry(path, iw, ih, o.sample_dims[2], o.sample_dims[1], o.resize_shorter);
}

}  // namespace bnfold
