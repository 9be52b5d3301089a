#include "analysis/dataset.hpp"

#include "graph/memory.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graph/check.hpp"
#include "graph/shape.hpp"
#include "graph/tensor_io.hpp"

namespace fs = std::filesystem;

namespace bnfold {

namespace {

std::string lower_ext(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e;
}

bool is_data_file(const fs::path& p) {
  const std::string e = lower_ext(p);
  return e == ".npy" || e == ".npz" || e == ".pb" || e == ".png" || e == ".jpg" || e == ".jpeg";
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BNFOLD_CHECK(in.good(), ErrorCode::Io, "{}: cannot open for reading", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint32_t le32(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}
uint16_t le16(const std::string& b, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1]) << 8);
}

}  // namespace

std::vector<Tensor> parse_npz(const std::string& zip, const std::string& path) {
  std::vector<Tensor> out;
  size_t at = 0;
  while (at + 30 <= zip.size() && le32(zip, at) == 0x04034b50) {
    const uint16_t flags = le16(zip, at + 6), method = le16(zip, at + 8);
    uint32_t csize = le32(zip, at + 18);
    const uint32_t usize = le32(zip, at + 22);
    const uint16_t name_len = le16(zip, at + 26), extra_len = le16(zip, at + 28);
    const std::string name = zip.substr(at + 30, name_len);
    BNFOLD_CHECK((flags & 0x8) == 0 && csize != 0xffffffffu, ErrorCode::Unsupported,
                 "{}: member '{}' uses a zip feature bnfold does not read (streamed or zip64)", path, name);
    const size_t data_at = at + 30 + name_len + extra_len;
    BNFOLD_CHECK(data_at + csize <= zip.size(), ErrorCode::InvalidArgument, "{}: truncated zip member '{}'", path,
                 name);
    std::string npy;
    if (method == 0) {
      npy = zip.substr(data_at, csize);
    } else {
      BNFOLD_CHECK(method == 8, ErrorCode::Unsupported, "{}: member '{}' uses zip method {}", path, name, method);
      // A zip bomb is refused before its bytes are: the memory limit applies.
      BNFOLD_CHECK(usize <= memory_limit(), ErrorCode::ResourceLimit,
                   "{}: member '{}' inflates to {} bytes, over the memory limit of {} bytes", path, name, usize,
                   memory_limit());
      npy.resize(usize);
      z_stream z{};
      inflateInit2(&z, -MAX_WBITS);  // raw deflate, as zip stores it
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zip.data() + data_at));
      z.avail_in = csize;
      z.next_out = reinterpret_cast<Bytef*>(npy.data());
      z.avail_out = usize;
      const int rc = inflate(&z, Z_FINISH);
      inflateEnd(&z);
      BNFOLD_CHECK(rc == Z_STREAM_END, ErrorCode::InvalidArgument, "{}: cannot inflate member '{}'", path, name);
    }
    try {
      out.push_back(parse_npy(npy, path + ": member '" + name + "'"));
    } catch (const Error& e) {
      failf(e.code(), "{}", e.what());
    }
    at = data_at + csize;
  }
  BNFOLD_CHECK(!out.empty(), ErrorCode::InvalidArgument, "{}: not an .npz file (no zip members found)", path);
  return out;
}

namespace {

std::vector<Tensor> read_npz(const std::string& path) { return parse_npz(read_all(path), path); }

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
  std::vector<unsigned char> resized(static_cast<size_t>(w * h * c));
  int ok = 1;
  if (iw == w && ih == h) {  // the resampling filter is not the identity even at the same size
    std::memcpy(resized.data(), px, resized.size());
  } else {
    ok = stbir_resize_uint8(px, iw, ih, 0, resized.data(), static_cast<int>(w), static_cast<int>(h), 0,
                            static_cast<int>(c));
  }
  stbi_image_free(px);
  BNFOLD_CHECK(ok, ErrorCode::Internal, "{}: resizing failed", path);
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

}  // namespace

std::vector<std::string> data_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(p, ec))
        if (e.is_regular_file() && is_data_file(e.path())) found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      BNFOLD_CHECK(!found.empty(), ErrorCode::InvalidArgument,
                   "{}: no data files in this folder (looked for .npy, .npz, .pb, .png, .jpg)", p);
      files.insert(files.end(), found.begin(), found.end());
    } else {
      BNFOLD_CHECK(fs::is_regular_file(p, ec), ErrorCode::Io, "{}: no such file or folder", p);
      BNFOLD_CHECK(is_data_file(p), ErrorCode::InvalidArgument,
                   "{}: unknown data file type (use .npy, .npz, .pb, .png or .jpg)", p);
      files.push_back(p);
    }
  }
  BNFOLD_CHECK(!files.empty(), ErrorCode::InvalidArgument, "no data given");
  return files;
}

Dataset Dataset::open(const std::vector<std::string>& paths, const DataOptions& o) {
  BNFOLD_CHECK(!o.sample_dims.empty(), ErrorCode::InvalidArgument, "the sample dims are needed to read data");
  const std::vector<std::string> files = data_files(paths);
  Dataset d;
  d.sample_dims_ = o.sample_dims;
  d.dtype_ = o.dtype;
  const size_t sample_bytes = static_cast<size_t>(checked_numel(o.sample_dims)) * dtype_size(o.dtype);
  auto add = [&](const Tensor& t, const std::string& where) {
    BNFOLD_CHECK(t.dtype() == o.dtype, ErrorCode::InvalidArgument, "{}: holds {} data, the model takes {}", where,
                 dtype_name(t.dtype()), dtype_name(o.dtype));
    std::vector<int64_t> dims = t.dims();
    int64_t n = 1;
    if (dims.size() == o.sample_dims.size() + 1) {
      n = dims[0];
      dims.erase(dims.begin());
    }
    BNFOLD_CHECK(dims == o.sample_dims, ErrorCode::InvalidArgument,
                 "{}: holds {} but the model takes samples of {} (or batches of them)", where,
                 Shape::of(t.dims()).str(), Shape::of(o.sample_dims).str());
    const auto* p = static_cast<const char*>(t.data());
    d.bytes_.insert(d.bytes_.end(), p, p + static_cast<size_t>(n) * sample_bytes);
    d.count_ += n;
  };
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& f = files[i];
    const std::string e = lower_ext(f);
    if (e == ".npy") add(load_npy(f), f);
    else if (e == ".pb") add(load_tensor_pb(f), f);
    else if (e == ".npz") {
      for (const Tensor& t : read_npz(f)) add(t, f);
    } else {
      add(read_image(f, o), f);
    }
    if (o.progress) o.progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(files.size()));
  }
  BNFOLD_CHECK(d.count_ > 0, ErrorCode::InvalidArgument, "the data holds no samples");
  d.description = fmt::format("{} samples from {} file{}", d.count_, files.size(), files.size() == 1 ? "" : "s");
  return d;
}

Dataset Dataset::from_tensor(const Tensor& samples) {
  BNFOLD_CHECK(samples.rank() >= 1 && samples.dims()[0] > 0, ErrorCode::InvalidArgument, "no samples");
  Dataset d;
  d.sample_dims_.assign(samples.dims().begin() + 1, samples.dims().end());
  d.dtype_ = samples.dtype();
  d.count_ = samples.dims()[0];
  const auto* p = static_cast<const char*>(samples.data());
  d.bytes_.assign(p, p + samples.nbytes());
  d.description = fmt::format("{} samples", d.count_);
  return d;
}

Tensor Dataset::batch(int64_t start, int64_t n) const {
  BNFOLD_CHECK(start >= 0 && n > 0 && start + n <= count_, ErrorCode::InvalidArgument,
               "samples {}..{} of a data set of {}", start, start + n, count_);
  std::vector<int64_t> dims = sample_dims_;
  dims.insert(dims.begin(), n);
  Tensor t(dtype_, dims);
  const size_t sample_bytes = static_cast<size_t>(checked_numel(sample_dims_)) * dtype_size(dtype_);
  std::memcpy(t.mutable_data(), bytes_.data() + static_cast<size_t>(start) * sample_bytes,
              static_cast<size_t>(n) * sample_bytes);
  return t;
}

}  // namespace bnfold
