// The shift study's corruptions: pixels stay in [0, 1], a sample corrupts the
// same way in any batch, each family distorts more with each severity, odd
// image shapes work, and what cannot be corrupted is refused by name.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>

#include "bnfold/analysis/corruptions.hpp"
#include "bnfold/graph/error.hpp"

using namespace bnfold;
using Catch::Matchers::Contains;

namespace {

// Smooth structure plus texture, values within [0.15, 0.85]: room both ways.
Tensor images(int64_t n, int64_t c, int64_t h, int64_t w) {
  Tensor t(DType::Float32, {n, c, h, w});
  float* p = t.mutable_data_as<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t x = i % w, y = (i / w) % h, k = (i / (w * h)) % c, s = i / (w * h * c);
    p[i] = static_cast<float>(0.5 + 0.2 * std::sin(0.7 * x + 0.3 * y + k + s) + 0.15 * std::cos(2.9 * x * y + s));
  }
  return t;
}

Tensor copy(const Tensor& t) {
  Tensor o(t.dtype(), t.dims());
  std::memcpy(o.mutable_data(), t.data(), t.nbytes());
  return o;
}

double mean_abs_diff(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += std::fabs(a.data_as<float>()[i] - b.data_as<float>()[i]);
  return s / static_cast<double>(a.numel());
}

bool equal(const Tensor& a, const Tensor& b) { return a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0; }

}  // namespace

TEST_CASE("every corruption keeps pixels in [0, 1] and grows with severity", "[corruptions]") {
  const Tensor clean = images(6, 3, 32, 32);
  for (const auto& f : corruption_families()) {
    double last = 0;
    for (int s = 1; s <= 5; ++s) {
      Tensor t = copy(clean);
      corrupt(t, f.name, s, 7, 0);
      const float* p = t.data_as<float>();
      bool in_range = true;
      for (int64_t i = 0; i < t.numel(); ++i) in_range = in_range && p[i] >= 0 && p[i] <= 1;
      const double d = mean_abs_diff(t, clean);
      INFO(f.name << " severity " << s << ": mean |change| " << d << " after " << last);
      CHECK(in_range);
      CHECK(d > 0);
      CHECK(d > last * 0.98);  // JPEG's error is not strictly monotonic in quality on a tiny image
      last = d;
    }
  }
}

TEST_CASE("a sample corrupts the same way in any batch, and the seed decides the draws", "[corruptions]") {
  const Tensor clean = images(4, 3, 16, 12);
  for (const auto& f : corruption_families()) {
    Tensor whole = copy(clean);
    corrupt(whole, f.name, 3, 11, 100);
    // The same samples in two batches: the second starts at index 102.
    Tensor first(DType::Float32, {2, 3, 16, 12}), second(DType::Float32, {2, 3, 16, 12});
    std::memcpy(first.mutable_data(), clean.data(), first.nbytes());
    std::memcpy(second.mutable_data(), static_cast<const char*>(clean.data()) + first.nbytes(), second.nbytes());
    corrupt(first, f.name, 3, 11, 100);
    corrupt(second, f.name, 3, 11, 102);
    Tensor joined(DType::Float32, {4, 3, 16, 12});
    std::memcpy(joined.mutable_data(), first.data(), first.nbytes());
    std::memcpy(static_cast<char*>(joined.mutable_data()) + first.nbytes(), second.data(), second.nbytes());
    INFO(f.name);
    CHECK(equal(whole, joined));
    Tensor again = copy(clean);
    corrupt(again, f.name, 3, 11, 100);
    CHECK(equal(whole, again));
    Tensor other_seed = copy(clean);
    corrupt(other_seed, f.name, 3, 12, 100);
    const bool random = f.name == std::string("gaussian_noise") || f.name == std::string("shot_noise") ||
                        f.name == std::string("motion_blur");
    CHECK(equal(whole, other_seed) == !random);
  }
}

TEST_CASE("corruptions on awkward shapes: 1x1, one row, one channel, four channels", "[corruptions]") {
  for (const auto& dims : std::vector<std::vector<int64_t>>{{1, 3, 1, 1}, {2, 3, 1, 7}, {1, 1, 5, 3}, {3, 4, 9, 2}}) {
    for (const auto& f : corruption_families()) {
      Tensor t = images(dims[0], dims[1], dims[2], dims[3]);
      INFO(f.name << " on " << dims[0] << "x" << dims[1] << "x" << dims[2] << "x" << dims[3]);
      if (!corruption_applies(f.name, dims[1])) {
        CHECK_THROWS_WITH(corrupt(t, f.name, 2, 0, 0), Contains("2 or more channels"));
        continue;
      }
      CHECK_NOTHROW(corrupt(t, f.name, 5, 0, 0));
      const float* p = t.data_as<float>();
      for (int64_t i = 0; i < t.numel(); ++i) REQUIRE((p[i] >= 0 && p[i] <= 1));
    }
  }
}

TEST_CASE("the plain families equal their definitions", "[corruptions]") {
  const Tensor clean = images(2, 3, 8, 8);
  const float* c = clean.data_as<float>();
  Tensor b = copy(clean);
  corrupt(b, "brightness", 2, 0, 0);  // + 0.2, clipped
  Tensor t = copy(clean);
  corrupt(t, "tint", 5, 0, 0);  // red x1.5, green x1, blue x0.5
  bool ok = true;
  for (int64_t i = 0; i < clean.numel(); ++i) {
    const int64_t k = (i / 64) % 3;
    const float gain = k == 0 ? 1.5f : k == 1 ? 1.f : 0.5f;
    ok = ok && std::fabs(b.data_as<float>()[i] - std::min(1.f, c[i] + 0.2f)) < 1e-6f &&
         std::fabs(t.data_as<float>()[i] - std::min(1.f, c[i] * gain)) < 1e-6f;
  }
  CHECK(ok);
  // Contrast keeps each image's mean (no clipping needed here).
  Tensor k = copy(clean);
  corrupt(k, "contrast", 1, 0, 0);
  double m0 = 0, m1 = 0;
  for (int64_t i = 0; i < 192; ++i) {
    m0 += c[i];
    m1 += k.data_as<float>()[i];
  }
  CHECK(std::fabs(m0 - m1) / 192 < 1e-5);
}

TEST_CASE("corruptions refuse what they cannot do, by name", "[corruptions]") {
  Tensor t = images(1, 3, 4, 4);
  CHECK_THROWS_WITH(corrupt(t, "rain", 1, 0, 0), Contains("no corruption family 'rain'") && Contains("haze"));
  CHECK_THROWS_WITH(corrupt(t, "haze", 0, 0, 0), Contains("severity 0 is not one of 1-5"));
  CHECK_THROWS_WITH(corrupt(t, "haze", 6, 0, 0), Contains("severity 6"));
  Tensor flat(DType::Float32, {3, 16});
  CHECK_THROWS_WITH(corrupt(flat, "haze", 1, 0, 0), Contains("[N, C, H, W]"));
  CHECK_THROWS_AS(corruption_family("Haze"), Error);
}
