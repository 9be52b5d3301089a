#include "analysis/dataset.hpp"


#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>

#include "graph/check.hpp"
#include "graph/shape.hpp"
#include "graph/tensor_io.hpp"
#include "analysis/data_source.hpp"

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

}  // namespace

std::vector<Tensor> parse_npz(const std::string& zip, const std::string& path) {
  std::vector<Tensor> out;
  for (auto& [name, t] : parse_npz_named(zip, path)) out.push_back(std::move(t));
  return out;
}

namespace {
bool is_integer(DType t) {
  switch (t) {
    case DType::Int8: case DType::Int16: case DType::Int32: case DType::Int64:
    case DType::UInt8: case DType::UInt16: case DType::UInt32: case DType::UInt64:
      return true;
    default:
      return false;
  }
}
}  // namespace

std::vector<int64_t> labels_from_tensor(const Tensor& t, const std::string& what) {
  BNFOLD_CHECK(is_integer(t.dtype()), ErrorCode::InvalidArgument,
               "{}: labels must be integer class ids; this array holds {} (convert with .astype(np.int64))", what,
               dtype_name(t.dtype()));
  BNFOLD_CHECK(t.rank() == 1 || (t.rank() == 2 && t.dims()[1] == 1), ErrorCode::InvalidArgument,
               "{}: labels are one class id per sample, an array of [N] (or [N, 1]); this one is {}", what,
               Shape::of(t.dims()).str());
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = t.value_at(i);
    BNFOLD_CHECK(v >= 0, ErrorCode::InvalidArgument, "{}: label {} of sample {} is negative", what, v, i);
    out[static_cast<size_t>(i)] = static_cast<int64_t>(v);
  }
  return out;
}

namespace {

std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path) {
  return parse_npz_named(data::read_range(path, 0, data::file_size(path)), path);
}

std::string array_names(const std::vector<std::pair<std::string, Tensor>>& arrays) {
  std::string s;
  for (const auto& [name, t] : arrays) s += (s.empty() ? "" : ", ") + name;
  return s;
}

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

namespace {

// Labels from subfolders: the class of each file under a data folder is its
// first path component there, numbered in sorted order (ImageFolder).
struct ClassFolders {
  std::vector<std::string> names;
  int64_t class_of(const std::string& root, const std::string& file) const {
    const fs::path rel = fs::path(file).lexically_relative(root);
    BNFOLD_CHECK(rel.begin() != rel.end() && std::next(rel.begin()) != rel.end(), ErrorCode::InvalidArgument,
                 "{}: --labels subfolders needs every file inside a class folder of {}", file, root);
    const std::string cls = rel.begin()->string();
    return std::lower_bound(names.begin(), names.end(), cls) - names.begin();
  }
};

ClassFolders class_folders(const std::vector<std::string>& paths) {
  std::set<std::string> names;
  for (const std::string& p : paths) {
    std::error_code ec;
    BNFOLD_CHECK(fs::is_directory(p, ec), ErrorCode::InvalidArgument,
                 "{}: --labels subfolders takes data folders (one subfolder per class), not files", p);
    for (const auto& e : fs::directory_iterator(p, ec))
      if (e.is_directory()) names.insert(e.path().filename().string());
  }
  return {std::vector<std::string>(names.begin(), names.end())};
}

bool same_path(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

}  // namespace

struct Dataset::Impl {
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

namespace {

// The header of a .npy file, checked against the file's size.
NpyHeader npy_file_header(const std::string& path) {
  const size_t size = data::file_size(path);
  const std::string prefix = data::read_range(path, 0, std::min<size_t>(size, 12));
  const size_t header = npy_header_size(prefix);
  const NpyHeader h = parse_npy_header(data::read_range(path, 0, std::min(size, header)), path);
  BNFOLD_CHECK(size - h.data_at == h.nbytes, ErrorCode::InvalidArgument, "{}: holds {} data bytes but {} needs {}",
               path, size - h.data_at, Shape::of(h.dims).str(), h.nbytes);
  return h;
}

NpyHeader npz_member_header(const std::string& path, const data::ZipMember& m, const std::string& what) {
  const size_t header = npy_header_size(data::member_bytes(path, m, 12));
  const NpyHeader h = parse_npy_header(data::member_bytes(path, m, header), what);
  BNFOLD_CHECK(m.usize - std::min(m.usize, h.data_at) == h.nbytes, ErrorCode::InvalidArgument,
               "{}: holds {} data bytes but {} needs {}", what, m.usize - std::min(m.usize, h.data_at),
               Shape::of(h.dims).str(), h.nbytes);
  return h;
}

std::string member_key(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0 ? name.substr(0, name.size() - 4) : name;
}

}  // namespace

Dataset Dataset::open(const std::vector<std::string>& paths, const DataOptions& o) {
  BNFOLD_CHECK(!o.sample_dims.empty(), ErrorCode::InvalidArgument, "the sample dims are needed to read data");
  BNFOLD_CHECK(o.every >= 1 && o.limit >= 0, ErrorCode::InvalidArgument, "every {} / limit {}: every >= 1, limit >= 0",
               o.every, o.limit);
  const LabelSource source = label_source_of(o.labels);
  const bool from_folders = source == LabelSource::Subfolders;
  const ClassFolders classes = from_folders ? class_folders(paths) : ClassFolders{};
  if (from_folders)
    BNFOLD_CHECK(!classes.names.empty(), ErrorCode::InvalidArgument,
                 "--labels subfolders: the data folders have no subfolders (one per class, as ImageFolder)");
  // Each file with the data path it was found under.
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& p : paths)
    for (const std::string& f : data_files({p})) files.emplace_back(f, p);
  Dataset d;
  auto impl = std::make_shared<Impl>();
  d.sample_dims_ = o.sample_dims;
  d.dtype_ = o.dtype;
  impl->sample_bytes = static_cast<size_t>(checked_numel(o.sample_dims)) * dtype_size(o.dtype);
  std::vector<int64_t> folder_labels, npz_labels;
  bool npz_has_labels = false;
  int64_t images = 0, used_files = 0, total = 0;
  // An array of `dtype` and `dims` at `where`: samples or a batch of them, or labels to skip.
  auto add = [&](DType dtype, const std::vector<int64_t>& all_dims, const std::string& where, data::Source src,
                 int64_t cls) {
    // An integer vector beside float data is labels, not a sample (x.npy and y.npy in one folder).
    if (dtype_is_float(o.dtype) && is_integer(dtype) && all_dims.size() <= 2 && all_dims != o.sample_dims) {
      d.notes.push_back(fmt::format("{}: an integer array of {} values, read as labels only with --labels", where,
                                    checked_numel(all_dims)));
      return;
    }
    BNFOLD_CHECK(dtype == o.dtype, ErrorCode::InvalidArgument, "{}: holds {} data, the model takes {}", where,
                 dtype_name(dtype), dtype_name(o.dtype));
    std::vector<int64_t> dims = all_dims;
    int64_t n = 1;
    if (dims.size() == o.sample_dims.size() + 1) {
      n = dims[0];
      dims.erase(dims.begin());
    }
    BNFOLD_CHECK(dims == o.sample_dims, ErrorCode::InvalidArgument,
                 "{}: holds {} but the model takes samples of {} (or batches of them)", where,
                 Shape::of(all_dims).str(), Shape::of(o.sample_dims).str());
    if (n == 0) return;
    src.what = where;
    src.first = total;
    src.count = n;
    impl->sources.push_back(std::move(src));
    total += n;
    if (cls >= 0) folder_labels.insert(folder_labels.end(), static_cast<size_t>(n), cls);
  };
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& f = files[i].first;  // not a structured binding: lambdas below capture it (C++17)
    const std::string& root = files[i].second;
    const std::string e = lower_ext(f);
    if (source == LabelSource::File && same_path(f, o.labels)) {
      d.notes.push_back(fmt::format("{}: the labels file, not read as data", f));
      continue;
    }
    const int64_t before = total;
    const int64_t cls = from_folders ? classes.class_of(root, f) : -1;
    data::Source src;
    if (e == ".npy") {
      const NpyHeader h = npy_file_header(f);
      src.kind = data::Source::Kind::Contiguous;
      src.path = f;
      src.offset = h.data_at;
      add(h.dtype, h.dims, f, src, cls);
    } else if (e == ".pb") {
      const Tensor t = load_tensor_pb(f);  // read once for its dims; again when a batch needs it
      src.kind = data::Source::Kind::Decoded;
      src.decode = [f] { return load_tensor_pb(f); };
      add(t.dtype(), t.dims(), f, src, cls);
    } else if (e == ".npz") {
      const std::vector<data::ZipMember> members = data::zip_members(f);
      bool found_data = o.data_key.empty(), found_labels = o.label_key.empty();
      std::string names;
      for (const auto& m : members) names += (names.empty() ? "" : ", ") + member_key(m.name);
      for (const auto& m : members) {
        const std::string name = member_key(m.name);
        const std::string where = f + ": array '" + name + "'";
        if (!o.label_key.empty() && name == o.label_key) {
          found_labels = true;
          if (source == LabelSource::None) {
            const std::vector<int64_t> l = labels_from_tensor(parse_npy(data::member_bytes(f, m), where), where);
            npz_labels.insert(npz_labels.end(), l.begin(), l.end());
            npz_has_labels = true;
          }
          continue;
        }
        if (!o.data_key.empty() && name != o.data_key) continue;
        found_data = found_data || name == o.data_key;
        const NpyHeader h = npz_member_header(f, m, where);
        data::Source s;
        if (m.method == 0) {
          s.kind = data::Source::Kind::Contiguous;
          s.path = f;
          s.offset = m.data_at + h.data_at;
        } else {
          s.kind = data::Source::Kind::Decoded;
          s.decode = [f, m, where] { return parse_npy(data::member_bytes(f, m), where); };
        }
        add(h.dtype, h.dims, where, s, cls);
      }
      BNFOLD_CHECK(found_data, ErrorCode::InvalidArgument, "{}: no array '{}' (--data-key); it holds {}", f,
                   o.data_key, names);
      BNFOLD_CHECK(found_labels || source != LabelSource::None, ErrorCode::InvalidArgument,
                   "{}: no array '{}' (--label-key); it holds {}", f, o.label_key, names);
    } else {
      int iw = 0, ih = 0, ic = 0;
      BNFOLD_CHECK(stbi_info(f.c_str(), &iw, &ih, &ic) != 0, ErrorCode::InvalidArgument,
                   "{}: cannot decode the image: {}", f, stbi_failure_reason());
      src.kind = data::Source::Kind::Decoded;
      DataOptions copy = o;
      copy.progress = nullptr;
      src.decode = [f, copy] { return read_image(f, copy); };
      BNFOLD_CHECK(o.sample_dims.size() == 3, ErrorCode::InvalidArgument,
                   "{}: images need a model input of [N, C, H, W]; this model's sample is {}", f,
                   Shape::of(o.sample_dims).str());
      image_geometry(f, iw, ih, o.sample_dims[2], o.sample_dims[1], o.resize_shorter);  // throws now, not mid-pass
      add(o.dtype, o.sample_dims, f, src, cls);
      ++images;
    }
    used_files += total > before;
    if (o.progress) o.progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(files.size()));
  }
  BNFOLD_CHECK(total > 0, ErrorCode::InvalidArgument, "the data holds no samples{}",
               d.notes.empty() ? "" : " (" + d.notes.front() + ")");
  d.impl_ = impl;
  d.count_ = total;
  d.description = fmt::format("{} samples from {} file{}", total, used_files, used_files == 1 ? "" : "s");
  if (from_folders) {
    d.set_labels(std::move(folder_labels), "--labels subfolders");
    d.class_names = classes.names;
    d.description += fmt::format(", {} classes from subfolders", classes.names.size());
  } else if (source == LabelSource::File) {
    d.set_labels(load_labels(o.labels, o.label_key), o.labels);
  } else if (npz_has_labels) {
    d.set_labels(std::move(npz_labels), "the '" + o.label_key + "' arrays of the data");
  }
  if (d.has_labels() && !from_folders) d.description += ", with labels";
  // The selection: every k-th sample, at most `limit`.
  if (o.every > 1 || (o.limit > 0 && o.limit < total)) {
    int64_t n = (total + o.every - 1) / o.every;
    if (o.limit > 0) n = std::min(n, o.limit);
    d.every_ = o.every;
    d.count_ = n;
    if (d.has_labels()) {
      std::vector<int64_t> picked(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j) picked[static_cast<size_t>(j)] = d.labels_[static_cast<size_t>(j * o.every)];
      d.labels_ = std::move(picked);
    }
    d.description += fmt::format("; using {} of them ({}{})", n,
                                 o.every > 1 ? fmt::format("every {}{}", o.every, o.every == 2 ? "nd" : o.every == 3 ? "rd" : "th") : "the first",
                                 o.limit > 0 ? fmt::format(", at most {}", o.limit) : "");
  }
  const bool plain = std::all_of(o.mean.begin(), o.mean.end(), [](float v) { return v == 0.f; }) &&
                     std::all_of(o.std.begin(), o.std.end(), [](float v) { return v == 1.f; });
  if (images > 0 && plain)
    d.notes.push_back(fmt::format(
        "{} images were scaled to [0,1] and not normalized (mean 0, std 1); a model trained on normalized images "
        "(ImageNet: --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225) sees other data than it learned",
        images));
  return d;
}

void Dataset::set_labels(std::vector<int64_t> labels, const std::string& what) {
  BNFOLD_CHECK(static_cast<int64_t>(labels.size()) == count_, ErrorCode::InvalidArgument,
               "{}: {} labels for {} samples (one class id per sample, in the data's order)", what, labels.size(),
               count_);
  for (int64_t v : labels) BNFOLD_CHECK(v >= 0, ErrorCode::InvalidArgument, "{}: negative label {}", what, v);
  labels_ = std::move(labels);
}

std::vector<int64_t> load_labels(const std::string& path, const std::string& key) {
  std::error_code ec;
  BNFOLD_CHECK(fs::is_regular_file(path, ec), ErrorCode::Io, "--labels {}: no such file", path);
  const std::string e = lower_ext(path);
  if (e == ".npy") return labels_from_tensor(load_npy(path), path);
  BNFOLD_CHECK(e == ".npz", ErrorCode::InvalidArgument,
               "--labels {}: use a .npy or .npz file of integer class ids, or 'subfolders'", path);
  const auto arrays = read_npz(path);
  if (key.empty()) {
    BNFOLD_CHECK(arrays.size() == 1, ErrorCode::InvalidArgument,
                 "--labels {}: it holds {} arrays ({}); say which with --label-key", path, arrays.size(),
                 array_names(arrays));
    return labels_from_tensor(arrays[0].second, path);
  }
  for (const auto& [name, t] : arrays)
    if (name == key) return labels_from_tensor(t, path + ": array '" + name + "'");
  failf(ErrorCode::InvalidArgument, "--labels {}: no array '{}' (--label-key); it holds {}", path, key,
        array_names(arrays));
}

Dataset Dataset::from_tensor(const Tensor& samples) {
  BNFOLD_CHECK(samples.rank() >= 1 && samples.dims()[0] > 0, ErrorCode::InvalidArgument, "no samples");
  Dataset d;
  d.sample_dims_.assign(samples.dims().begin() + 1, samples.dims().end());
  d.dtype_ = samples.dtype();
  d.count_ = samples.dims()[0];
  auto impl = std::make_shared<Impl>();
  impl->sample_bytes = static_cast<size_t>(checked_numel(d.sample_dims_)) * dtype_size(d.dtype_);
  data::Source s;
  s.kind = data::Source::Kind::Memory;
  s.what = "memory";
  s.count = d.count_;
  s.memory = std::make_shared<const std::string>(static_cast<const char*>(samples.data()), samples.nbytes());
  impl->sources.push_back(std::move(s));
  d.impl_ = impl;
  d.description = fmt::format("{} samples", d.count_);
  return d;
}

Tensor Dataset::batch(int64_t start, int64_t n) const {
  BNFOLD_CHECK(start >= 0 && n > 0 && start + n <= count_, ErrorCode::InvalidArgument,
               "samples {}..{} of a data set of {}", start, start + n, count_);
  std::vector<int64_t> dims = sample_dims_;
  dims.insert(dims.begin(), n);
  Tensor t(dtype_, dims);
  auto* dst = static_cast<char*>(t.mutable_data());
  if (every_ == 1) {
    impl_->copy(start, n, dst);
  } else {
    for (int64_t i = 0; i < n; ++i) impl_->copy((start + i) * every_, 1, dst + static_cast<size_t>(i) * impl_->sample_bytes);
  }
  return t;
}

const char* to_string(LabelSource source) {
  switch (source) {
    case LabelSource::File: return "file";
    case LabelSource::Subfolders: return "subfolders";
    case LabelSource::None: break;
  }
  return "none";
}

LabelSource label_source_of(const std::string& labels) {
  if (labels.empty()) return LabelSource::None;
  return labels == to_string(LabelSource::Subfolders) ? LabelSource::Subfolders : LabelSource::File;
}

}  // namespace bnfold
