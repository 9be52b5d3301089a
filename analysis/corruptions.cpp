// The corruption families of the shift study (see corruptions.hpp). Each
// takes one image [C, H, W] in [0, 1] and its own random stream; the
// parameters follow ImageNet-C where it defines them for [0, 1] pixels
// (brightness, contrast, noise, JPEG quality, pixelation).
#include "bnfold/analysis/corruptions.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "graph/check.hpp"

namespace bnfold {

namespace {

// splitmix64: a stream fixed by its seed alone, the same with any standard
// library (std::normal_distribution is not).
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {  // Box-Muller
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
  }
  int poisson(double lambda) {  // Knuth: lambda <= 60 here
    const double limit = std::exp(-lambda);
    int k = 0;
    for (double p = uniform(); p > limit; p *= uniform()) ++k;
    return k;
  }
};

struct Image {
  float* p;
  int64_t c, h, w;
  int64_t plane() const { return h * w; }
  float* channel(int64_t k) const { return p + k * plane(); }
};

double pick(const double (&values)[5], int severity) { return values[severity - 1]; }
double side(const Image& im) { return static_cast<double>(std::min(im.h, im.w)); }

void brightness(const Image& im, int s, Rng&) {
  static const double kAdd[5] = {.1, .2, .3, .4, .5};
  const float a = static_cast<float>(pick(kAdd, s));
  for (int64_t i = 0; i < im.c * im.plane(); ++i) im.p[i] += a;
}

void contrast(const Image& im, int s, Rng&) {
  static const double kFactor[5] = {.4, .3, .2, .1, .05};
  const int64_t n = im.c * im.plane();
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += im.p[i];
  mean /= static_cast<double>(n);
  const double f = pick(kFactor, s);
  for (int64_t i = 0; i < n; ++i) im.p[i] = static_cast<float>((im.p[i] - mean) * f + mean);
}

// White balance: the first channel gains a, the last loses a, those between
// in proportion (RGB: red up, blue down: warm light).
void tint(const Image& im, int s, Rng&) {
  static const double kGain[5] = {.1, .2, .3, .4, .5};
  const double a = pick(kGain, s);
  for (int64_t k = 0; k < im.c; ++k) {
    const float g = static_cast<float>(1 + a * (1 - 2.0 * static_cast<double>(k) / static_cast<double>(im.c - 1)));
    float* q = im.channel(k);
    for (int64_t i = 0; i < im.plane(); ++i) q[i] *= g;
  }
}

void gaussian_noise(const Image& im, int s, Rng& rng) {
  static const double kSigma[5] = {.08, .12, .18, .26, .38};
  const double sigma = pick(kSigma, s);
  for (int64_t i = 0; i < im.c * im.plane(); ++i) im.p[i] += static_cast<float>(sigma * rng.normal());
}

// Photon counting: a pixel of value v collects Poisson(v * lambda) photons.
void shot_noise(const Image& im, int s, Rng& rng) {
  static const double kPhotons[5] = {60, 25, 12, 5, 3};
  const double lambda = pick(kPhotons, s);
  for (int64_t i = 0; i < im.c * im.plane(); ++i)
    im.p[i] = static_cast<float>(rng.poisson(std::clamp<double>(im.p[i], 0, 1) * lambda) / lambda);
}

// One pass of a 1-D kernel along rows (dx) or columns, edges clamped.
void convolve_axis(const Image& im, const std::vector<float>& kernel, bool along_rows) {
  const int64_t r = static_cast<int64_t>(kernel.size() / 2), len = along_rows ? im.w : im.h;
  const int64_t lines = along_rows ? im.h : im.w, step = along_rows ? 1 : im.w, next = along_rows ? im.w : 1;
  std::vector<float> line(static_cast<size_t>(len));
  for (int64_t k = 0; k < im.c; ++k)
    for (int64_t l = 0; l < lines; ++l) {
      float* q = im.channel(k) + l * next;
      for (int64_t i = 0; i < len; ++i) line[static_cast<size_t>(i)] = q[i * step];
      for (int64_t i = 0; i < len; ++i) {
        float acc = 0;
        for (int64_t t = -r; t <= r; ++t)
          acc += kernel[static_cast<size_t>(t + r)] * line[static_cast<size_t>(std::clamp<int64_t>(i + t, 0, len - 1))];
        q[i * step] = acc;
      }
    }
}

// Defocus-like: a Gaussian of sigma = a share of the shorter side.
void gaussian_blur(const Image& im, int s, Rng&) {
  static const double kSigma[5] = {.008, .014, .02, .027, .036};
  const double sigma = pick(kSigma, s) * side(im);
  const int64_t r = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * sigma)));
  std::vector<float> kernel(static_cast<size_t>(2 * r + 1));
  double total = 0;
  for (int64_t t = -r; t <= r; ++t) total += kernel[static_cast<size_t>(t + r)] = static_cast<float>(std::exp(-0.5 * t * t / (sigma * sigma)));
  for (float& v : kernel) v = static_cast<float>(v / total);
  convolve_axis(im, kernel, true);
  convolve_axis(im, kernel, false);
}

// Bilinear read with edges clamped.
float sample(const float* q, int64_t h, int64_t w, double y, double x) {
  y = std::clamp(y, 0.0, static_cast<double>(h - 1));
  x = std::clamp(x, 0.0, static_cast<double>(w - 1));
  const int64_t y0 = static_cast<int64_t>(y), x0 = static_cast<int64_t>(x);
  const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
  const double fy = y - static_cast<double>(y0), fx = x - static_cast<double>(x0);
  return static_cast<float>((1 - fy) * ((1 - fx) * q[y0 * w + x0] + fx * q[y0 * w + x1]) +
                            fy * ((1 - fx) * q[y1 * w + x0] + fx * q[y1 * w + x1]));
}

// A camera moving during the exposure: the mean along a line of the given
// length (a share of the shorter side) at an angle within 45 degrees of the
// horizontal, drawn per sample.
void motion_blur(const Image& im, int s, Rng& rng) {
  static const double kLength[5] = {.04, .06, .09, .12, .16};
  const double length = pick(kLength, s) * side(im), angle = (rng.uniform() - 0.5) * M_PI / 2;
  const int taps = std::max(3, static_cast<int>(std::ceil(length)) + 1);
  const double dx = std::cos(angle), dy = std::sin(angle);
  std::vector<float> src(static_cast<size_t>(im.plane()));
  for (int64_t k = 0; k < im.c; ++k) {
    float* q = im.channel(k);
    std::copy(q, q + im.plane(), src.begin());
    for (int64_t y = 0; y < im.h; ++y)
      for (int64_t x = 0; x < im.w; ++x) {
        float acc = 0;
        for (int t = 0; t < taps; ++t) {
          const double u = length * (static_cast<double>(t) / (taps - 1) - 0.5);
          acc += sample(src.data(), im.h, im.w, static_cast<double>(y) + u * dy, static_cast<double>(x) + u * dx);
        }
        q[y * im.w + x] = acc / static_cast<float>(taps);
      }
  }
}

void append(void* context, void* data, int size) {
  auto* out = static_cast<std::string*>(context);
  out->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

// `channels` planes starting at plane `first` through an 8-bit JPEG of quality q.
void jpeg_planes(const Image& im, int64_t first, int channels, int q) {
  std::vector<unsigned char> pixels(static_cast<size_t>(im.plane() * channels));
  for (int64_t i = 0; i < im.plane(); ++i)
    for (int k = 0; k < channels; ++k)
      pixels[static_cast<size_t>(i * channels + k)] =
          static_cast<unsigned char>(std::lround(std::clamp(im.channel(first + k)[i], 0.f, 1.f) * 255));
  std::string file;
  BNFOLD_CHECK(stbi_write_jpg_to_func(append, &file, static_cast<int>(im.w), static_cast<int>(im.h), channels,
                                      pixels.data(), q) != 0,
               ErrorCode::Internal, "JPEG encoding of a {}x{} image failed", im.h, im.w);
  int w = 0, h = 0, got = 0;
  unsigned char* back = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(file.data()),
                                              static_cast<int>(file.size()), &w, &h, &got, channels);
  BNFOLD_CHECK(back && w == im.w && h == im.h, ErrorCode::Internal, "JPEG decoding failed: {}",
               back ? "other dims" : stbi_failure_reason());
  for (int64_t i = 0; i < im.plane(); ++i)
    for (int k = 0; k < channels; ++k) im.channel(first + k)[i] = back[i * channels + k] / 255.f;
  stbi_image_free(back);
}

void jpeg(const Image& im, int s, Rng&) {
  static const double kQuality[5] = {25, 18, 15, 10, 7};
  const int q = static_cast<int>(pick(kQuality, s));
  if (im.c == 3) return jpeg_planes(im, 0, 3, q);
  for (int64_t k = 0; k < im.c; ++k) jpeg_planes(im, k, 1, q);
}

// Down to a share of the size by area averaging, back up by repeating.
void pixelate(const Image& im, int s, Rng&) {
  static const double kShare[5] = {.6, .5, .4, .3, .25};
  const int64_t sh = std::max<int64_t>(1, std::lround(static_cast<double>(im.h) * pick(kShare, s)));
  const int64_t sw = std::max<int64_t>(1, std::lround(static_cast<double>(im.w) * pick(kShare, s)));
  std::vector<double> sum(static_cast<size_t>(sh * sw));
  std::vector<int64_t> count(sum.size());
  for (int64_t k = 0; k < im.c; ++k) {
    float* q = im.channel(k);
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    for (int64_t y = 0; y < im.h; ++y)
      for (int64_t x = 0; x < im.w; ++x) {
        const size_t cell = static_cast<size_t>((y * sh / im.h) * sw + x * sw / im.w);
        sum[cell] += q[y * im.w + x];
        ++count[cell];
      }
    for (int64_t y = 0; y < im.h; ++y)
      for (int64_t x = 0; x < im.w; ++x) {
        const size_t cell = static_cast<size_t>((y * sh / im.h) * sw + x * sw / im.w);
        q[y * im.w + x] = static_cast<float>(sum[cell] / static_cast<double>(count[cell]));
      }
  }
}

// Light scattered towards the camera: v t + A (1 - t), transmission t lower
// at the top of the image (farther away) than at the bottom.
void haze(const Image& im, int s, Rng&) {
  static const double kTransmission[5] = {.8, .65, .5, .4, .3};
  const double t = pick(kTransmission, s), airlight = 0.85;
  for (int64_t y = 0; y < im.h; ++y) {
    const double ty = std::min(1.0, t * (0.8 + 0.4 * static_cast<double>(y) / static_cast<double>(std::max<int64_t>(1, im.h - 1))));
    for (int64_t k = 0; k < im.c; ++k) {
      float* row = im.channel(k) + y * im.w;
      for (int64_t x = 0; x < im.w; ++x) row[x] = static_cast<float>(row[x] * ty + airlight * (1 - ty));
    }
  }
}

using Apply = void (*)(const Image&, int, Rng&);
struct Family {
  CorruptionFamily info;
  Apply apply;
};

const std::vector<Family>& families() {
  static const std::vector<Family> kFamilies = {
      {{"brightness", "brighter light: every pixel plus a constant", "added: .1 .2 .3 .4 .5"}, brightness},
      {{"contrast", "flat light or a washed-out lens: pixels pulled to the image's mean",
        "kept share of the contrast: .4 .3 .2 .1 .05"}, contrast},
      {{"tint", "white balance: warmer light, red up and blue down", "gain of the first channel, loss of the last: .1 .2 .3 .4 .5"}, tint},
      {{"gaussian_noise", "sensor noise, independent per pixel", "sd: .08 .12 .18 .26 .38"}, gaussian_noise},
      {{"shot_noise", "low light: photon counting (Poisson)", "photons at full scale: 60 25 12 5 3"}, shot_noise},
      {{"gaussian_blur", "out of focus: a Gaussian blur", "sd in shares of the shorter side: .008 .014 .02 .027 .036"}, gaussian_blur},
      {{"motion_blur", "camera or part moving during the exposure: a line blur at a random angle",
        "length in shares of the shorter side: .04 .06 .09 .12 .16"}, motion_blur},
      {{"jpeg", "re-compression by a camera or a network link", "JPEG quality: 25 18 15 10 7"}, jpeg},
      {{"pixelate", "a lower-resolution camera, upscaled", "resolution kept: .6 .5 .4 .3 .25"}, pixelate},
      {{"haze", "dust, steam or fog: light scattered towards the camera", "transmission: .8 .65 .5 .4 .3"}, haze},
  };
  return kFamilies;
}

const Family& find(const std::string& name) {
  for (const Family& f : families())
    if (name == f.info.name) return f;
  std::string known;
  for (const Family& f : families()) known += std::string(known.empty() ? "" : ", ") + f.info.name;
  failf(ErrorCode::InvalidArgument, "no corruption family '{}' (there are: {})", name, known);
}

uint64_t stream_seed(uint64_t seed, size_t family, int severity, int64_t sample) {
  Rng r{seed};
  uint64_t s = r.next() ^ (static_cast<uint64_t>(family) << 48) ^ (static_cast<uint64_t>(severity) << 40);
  Rng mixed{s ^ static_cast<uint64_t>(sample) * 0xd1342543de82ef95ull};
  mixed.next();
  return mixed.next();
}

}  // namespace

const std::vector<CorruptionFamily>& corruption_families() {
  static const std::vector<CorruptionFamily> kInfo = [] {
    std::vector<CorruptionFamily> v;
    for (const Family& f : families()) v.push_back(f.info);
    return v;
  }();
  return kInfo;
}

const CorruptionFamily& corruption_family(const std::string& name) { return find(name).info; }

bool corruption_applies(const std::string& family, int64_t channels) {
  find(family);
  return family != "tint" || channels >= 2;
}

void corrupt(Tensor& pixels, const std::string& family, int severity, uint64_t seed, int64_t first) {
  const Family& f = find(family);
  BNFOLD_CHECK(severity >= 1 && severity <= 5, ErrorCode::InvalidArgument,
               "severity {} is not one of 1-5", severity);
  BNFOLD_CHECK(pixels.dtype() == DType::Float32 && pixels.rank() == 4, ErrorCode::InvalidArgument,
               "corruptions take float32 images [N, C, H, W]; this is {} of rank {}", dtype_name(pixels.dtype()),
               pixels.rank());
  const auto& d = pixels.dims();
  BNFOLD_CHECK(corruption_applies(family, d[1]), ErrorCode::InvalidArgument,
               "'{}' needs images of 2 or more channels; these have {}", family, d[1]);
  const size_t index = static_cast<size_t>(&f - families().data());
  float* base = pixels.mutable_data_as<float>();
  for (int64_t i = 0; i < d[0]; ++i) {
    Image im{base + i * d[1] * d[2] * d[3], d[1], d[2], d[3]};
    Rng rng{stream_seed(seed, index, severity, first + i)};
    f.apply(im, severity, rng);
    for (int64_t j = 0; j < im.c * im.plane(); ++j) im.p[j] = std::clamp(im.p[j], 0.f, 1.f);
  }
}

}  // namespace bnfold
