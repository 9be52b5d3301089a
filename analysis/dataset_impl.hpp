// Internal to the data sets (analysis/dataset.cpp, dataset_open.cpp,
// images.cpp): where a Dataset's samples live, and the helpers its files share.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "analysis/data_source.hpp"
#include "graph/zip_file.hpp"
#include "bnfold/analysis/dataset.hpp"
#include "graph/check.hpp"

namespace bnfold {

struct DatasetSamples {
  std::vector<data::Source> sources;  // in sample order
  size_t sample_bytes = 0;
  mutable std::mutex mu;  // guards the decoded source kept for the next batch
  mutable int64_t cached = -1;
  mutable Tensor cache;

  // Copies underlying samples [u, u + m) to dst.
  void copy(int64_t u, int64_t m, char* dst) const {
    auto it = std::upper_bound(sources.begin(), sources.end(), u,
                               [](int64_t v, const data::Source& s) { return v < s.first; });
    --it;
    while (m > 0) {
      const data::Source& s = *it;
      const int64_t k0 = u - s.first, take = std::min(m, s.count - k0);
      const size_t at = static_cast<size_t>(k0) * sample_bytes, bytes = static_cast<size_t>(take) * sample_bytes;
      switch (s.kind) {
        case data::Source::Kind::Memory:
          std::memcpy(dst, s.memory->data() + at, bytes);
          break;
        case data::Source::Kind::Contiguous: {
          const std::string b = data::read_range(s.path, s.offset + at, bytes);
          std::memcpy(dst, b.data(), bytes);
          break;
        }
        case data::Source::Kind::Decoded: {
          std::lock_guard<std::mutex> lock(mu);
          const int64_t index = it - sources.begin();
          if (cached != index) {
            cached = -1;
            cache = s.decode();
            BNFOLD_CHECK(cache.nbytes() == static_cast<size_t>(s.count) * sample_bytes, ErrorCode::InvalidArgument,
                         "{}: changed since the data set was opened", s.what);
            cached = index;
          }
          std::memcpy(dst, static_cast<const char*>(cache.data()) + at, bytes);
          break;
        }
      }
      dst += bytes;
      u += take;
      m -= take;
      ++it;
    }
  }
};

// The lower-case extension of a path (".npy").
std::string lower_ext(const std::string& path);
bool is_integer(DType t);
// An image file as the model's float32 sample: resized (ImageNet style when
// o.resize_shorter), centre-cropped, scaled to [0,1], normalized by o.mean/o.std.
Tensor read_image(const std::string& path, const DataOptions& o);
// Throws now, when the data set is opened, what read_image would throw mid-pass
// for an image of iw x ih: a model input that is not an image, a crop larger
// than the resized image.
void check_image_fits(const std::string& path, int iw, int ih, const DataOptions& o);

}  // namespace bnfold
