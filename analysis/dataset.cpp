#include "bnfold/analysis/dataset.hpp"
#include "analysis/dataset_impl.hpp"
#include "graph/zip_file.hpp"



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
#include "bnfold/graph/shape.hpp"
#include "bnfold/graph/tensor_io.hpp"
#include "analysis/data_source.hpp"

namespace fs = std::filesystem;

namespace bnfold {

std::string lower_ext(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e;
}

namespace {

bool is_data_file(const fs::path& p) {
  const std::string e = lower_ext(p.string());
  return e == ".npy" || e == ".npz" || e == ".pb" || e == ".png" || e == ".jpg" || e == ".jpeg";
}

}  // namespace

bool is_integer(DType t) {
  switch (t) {
    case DType::Int8: case DType::Int16: case DType::Int32: case DType::Int64:
    case DType::UInt8: case DType::UInt16: case DType::UInt32: case DType::UInt64:
      return true;
    default:
      return false;
  }
}

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
  auto impl = std::make_shared<DatasetSamples>();
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
  static const char* const kWords[] = {"none", "file", "subfolders"};  // in enum order
  return kWords[static_cast<int>(source)];
}

LabelSource label_source_of(const std::string& labels) {
  if (labels.empty()) return LabelSource::None;
  return labels == to_string(LabelSource::Subfolders) ? LabelSource::Subfolders : LabelSource::File;
}

}  // namespace bnfold
