// Dataset::open: a data set from files and folders, reading headers only.
// A Scan walks the files and records where each sample lives; open() then
// attaches the labels and the selection (every k-th sample, a limit).
#include <stb/stb_image.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>

#include "analysis/dataset_impl.hpp"
#include "graph/zip_file.hpp"
#include "bnfold/graph/shape.hpp"
#include "bnfold/graph/tensor_io.hpp"

namespace fs = std::filesystem;

namespace bnfold {

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

std::string member_key(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0 ? name.substr(0, name.size() - 4) : name;
}


// The files of a data set, scanned: the sources of its samples in order,
// their labels where the files say them, and notes for the user.
class Scan {
 public:
  Scan(const DataOptions& o, LabelSource source) : o_(o), source_(source), impl_(std::make_shared<DatasetSamples>()) {
    impl_->sample_bytes = static_cast<size_t>(checked_numel(o.sample_dims)) * dtype_size(o.dtype);
  }

  // One file found under the data path `root`; cls: its class folder's index, or -1.
  void file(const std::string& f, int64_t cls) {
    const int64_t before = total_;
    const std::string e = lower_ext(f);
    data::Source src;
    if (e == ".npy") {
      const NpyHeader h = data::npy_file_header(f);
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
      npz(f, cls);
    } else {
      image(f, cls);
    }
    used_files_ += total_ > before;
  }

  std::shared_ptr<DatasetSamples> impl() const { return impl_; }
  int64_t total() const { return total_; }
  int64_t used_files() const { return used_files_; }
  int64_t images() const { return images_; }
  bool all_images() const { return images_ > 0 && images_ == total_; }
  std::vector<std::string> notes;
  std::vector<int64_t> folder_labels, npz_labels;
  bool npz_has_labels = false;

 private:
  // An array of `dtype` and `dims` at `where`: samples or a batch of them, or labels to skip.
  void add(DType dtype, const std::vector<int64_t>& all_dims, const std::string& where, data::Source src,
           int64_t cls) {
    // An integer vector beside float data is labels, not a sample (x.npy and y.npy in one folder).
    if (dtype_is_float(o_.dtype) && is_integer(dtype) && all_dims.size() <= 2 && all_dims != o_.sample_dims) {
      notes.push_back(fmt::format("{}: an integer array of {} values, read as labels only with --labels", where,
                                  checked_numel(all_dims)));
      return;
    }
    BNFOLD_CHECK(dtype == o_.dtype, ErrorCode::InvalidArgument, "{}: holds {} data, the model takes {}", where,
                 dtype_name(dtype), dtype_name(o_.dtype));
    std::vector<int64_t> dims = all_dims;
    int64_t n = 1;
    if (dims.size() == o_.sample_dims.size() + 1) {
      n = dims[0];
      dims.erase(dims.begin());
    }
    BNFOLD_CHECK(dims == o_.sample_dims, ErrorCode::InvalidArgument,
                 "{}: holds {} but the model takes samples of {} (or batches of them)", where,
                 Shape::of(all_dims).str(), Shape::of(o_.sample_dims).str());
    if (n == 0) return;
    src.what = where;
    src.first = total_;
    src.count = n;
    impl_->sources.push_back(std::move(src));
    total_ += n;
    if (cls >= 0) folder_labels.insert(folder_labels.end(), static_cast<size_t>(n), cls);
  }

  void npz(const std::string& f, int64_t cls) {
    const std::vector<data::ZipMember> members = data::zip_members(f);
    bool found_data = o_.data_key.empty(), found_labels = o_.label_key.empty();
    std::string names;
    for (const auto& m : members) names += (names.empty() ? "" : ", ") + member_key(m.name);
    for (const auto& m : members) {
      const std::string name = member_key(m.name);
      const std::string where = f + ": array '" + name + "'";
      if (!o_.label_key.empty() && name == o_.label_key) {
        found_labels = true;
        if (source_ == LabelSource::None) {
          const std::vector<int64_t> l = labels_from_tensor(parse_npy(data::member_bytes(f, m), where), where);
          npz_labels.insert(npz_labels.end(), l.begin(), l.end());
          npz_has_labels = true;
        }
        continue;
      }
      if (!o_.data_key.empty() && name != o_.data_key) continue;
      found_data = found_data || name == o_.data_key;
      const NpyHeader h = data::npz_member_header(f, m, where);
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
                 o_.data_key, names);
    BNFOLD_CHECK(found_labels || source_ != LabelSource::None, ErrorCode::InvalidArgument,
                 "{}: no array '{}' (--label-key); it holds {}", f, o_.label_key, names);
  }

  void image(const std::string& f, int64_t cls) {
    int iw = 0, ih = 0, ic = 0;
    BNFOLD_CHECK(stbi_info(f.c_str(), &iw, &ih, &ic) != 0, ErrorCode::InvalidArgument,
                 "{}: cannot decode the image: {}", f, stbi_failure_reason());
    data::Source src;
    src.kind = data::Source::Kind::Decoded;
    DataOptions copy = o_;
    copy.progress = nullptr;
    src.decode = [f, copy] { return read_image(f, copy); };
    check_image_fits(f, iw, ih, o_);  // throws now, not mid-pass
    add(o_.dtype, o_.sample_dims, f, src, cls);
    ++images_;
  }

  const DataOptions& o_;
  const LabelSource source_;
  std::shared_ptr<DatasetSamples> impl_;
  int64_t total_ = 0, used_files_ = 0, images_ = 0;
};

std::string ordinal_suffix(int64_t k) { return k == 2 ? "nd" : k == 3 ? "rd" : "th"; }

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
  Scan scan(o, source);
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& [f, root] = files[i];
    if (source == LabelSource::File && same_path(f, o.labels))
      scan.notes.push_back(fmt::format("{}: the labels file, not read as data", f));
    else
      scan.file(f, from_folders ? classes.class_of(root, f) : -1);
    if (o.progress) o.progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(files.size()));
  }
  const int64_t total = scan.total();
  BNFOLD_CHECK(total > 0, ErrorCode::InvalidArgument, "the data holds no samples{}",
               scan.notes.empty() ? "" : " (" + scan.notes.front() + ")");
  Dataset d;
  d.sample_dims_ = o.sample_dims;
  d.dtype_ = o.dtype;
  d.notes = std::move(scan.notes);
  d.impl_ = scan.impl();
  d.count_ = total;
  d.description = fmt::format("{} samples from {} file{}", total, scan.used_files(), scan.used_files() == 1 ? "" : "s");
  if (from_folders) {
    d.set_labels(std::move(scan.folder_labels), "--labels subfolders");
    d.class_names = classes.names;
    d.description += fmt::format(", {} classes from subfolders", classes.names.size());
  } else if (source == LabelSource::File) {
    d.set_labels(load_labels(o.labels, o.label_key), o.labels);
  } else if (scan.npz_has_labels) {
    d.set_labels(std::move(scan.npz_labels), "the '" + o.label_key + "' arrays of the data");
  }
  if (d.has_labels() && !from_folders) d.description += ", with labels";
  if (scan.all_images()) {
    d.image_mean = o.mean;
    d.image_std = o.std;
  }
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
                                 o.every > 1 ? fmt::format("every {}{}", o.every, ordinal_suffix(o.every)) : "the first",
                                 o.limit > 0 ? fmt::format(", at most {}", o.limit) : "");
  }
  const bool plain = std::all_of(o.mean.begin(), o.mean.end(), [](float v) { return v == 0.f; }) &&
                     std::all_of(o.std.begin(), o.std.end(), [](float v) { return v == 1.f; });
  if (scan.images() > 0 && plain)
    d.notes.push_back(fmt::format(
        "{} images were scaled to [0,1] and not normalized (mean 0, std 1); a model trained on normalized images "
        "(ImageNet: --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225) sees other data than it learned",
        scan.images()));
  if (!plain && scan.images() == 0)
    d.notes.push_back(fmt::format(
        "--mean/--std apply to images only: the {} samples of .npy, .npz and .pb files are used as they are", total));
  return d;
}

}  // namespace bnfold
