#include "tools/python/data_args.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>

#include "bnfold/analysis/workflows.hpp"
#include "tools/arg_check.hpp"

namespace py = pybind11;

namespace bnfold::python {

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

DataOptions options_for(const Graph& g, const std::string& model, const DataArgs& a) {
  ImageOptions images;
  BNFOLD_ARG_CHECK(a.size.empty() || a.size.size() == 2, ErrorCode::InvalidArgument, "size: give (H, W)");
  BNFOLD_ARG_CHECK(a.center_crop.empty() || a.center_crop.size() == 2 || a.center_crop.size() == 1,
               ErrorCode::InvalidArgument, "center_crop: give C or (H, W)");
  images.size = a.size;
  images.resize = a.resize;
  images.crop = a.center_crop.size() == 1 ? std::vector<int64_t>{a.center_crop[0], a.center_crop[0]} : a.center_crop;
  images.mean = a.mean;
  images.std = a.std;
  BNFOLD_ARG_CHECK(a.channel_order == "rgb" || a.channel_order == "bgr", ErrorCode::InvalidArgument,
               "channel_order: 'rgb' or 'bgr', not '{}'", a.channel_order);
  images.bgr = a.channel_order == "bgr";
  DataOptions o = data_options_for(g, model, images);
  o.data_key = a.data_key;
  o.label_key = a.label_key;
  BNFOLD_ARG_CHECK(a.limit >= 0 && a.sample_every >= 1, ErrorCode::InvalidArgument,
               "limit must be >= 0 and sample_every >= 1 (got {} and {})", a.limit, a.sample_every);
  o.limit = a.limit;
  o.every = a.sample_every;
  return o;
}

std::vector<std::string> paths_of(const py::handle& data) {
  if (py::isinstance<py::str>(data)) return {py::cast<std::string>(data)};
  return py::cast<std::vector<std::string>>(data);
}

// An item as float32 [N, sample dims...]: one sample gets a batch dim.
FloatArray as_batch(const py::handle& item, const std::vector<int64_t>& sample_dims) {
  FloatArray a = FloatArray::ensure(item);
  if (!a) {
    if (PyErr_ExceptionMatches(PyExc_MemoryError)) throw py::error_already_set();
    PyErr_Clear();  // numpy's conversion error: ours says what is wanted
    throw Error(ErrorCode::InvalidArgument, "data items must be numpy arrays of numbers");
  }
  if (static_cast<size_t>(a.ndim()) == sample_dims.size()) {
    std::vector<py::ssize_t> shape(a.shape(), a.shape() + a.ndim());
    shape.insert(shape.begin(), 1);
    a = a.reshape(shape);
  }
  std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
  BNFOLD_ARG_CHECK(dims.size() == sample_dims.size() + 1 && std::equal(sample_dims.begin(), sample_dims.end(), dims.begin() + 1),
               ErrorCode::InvalidArgument, "an array of shape {} is neither a sample of {} nor a batch of them",
               Shape::of(dims).str(), Shape::of(sample_dims).str());
  return a;
}

// Labels for arrays: an integer array, or a .npy/.npz path.
std::vector<int64_t> labels_of(const py::object& labels, const std::string& key) {
  if (py::isinstance<py::str>(labels)) return load_labels(py::cast<std::string>(labels), key);
  auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(labels);
  BNFOLD_ARG_CHECK(a, ErrorCode::InvalidArgument, "labels must be a path or an array of class ids");
  const py::array raw = py::array::ensure(labels);
  BNFOLD_ARG_CHECK(raw.dtype().kind() == 'i' || raw.dtype().kind() == 'u', ErrorCode::InvalidArgument,
               "labels must be integer class ids, not an array of kind '{}'", raw.dtype().kind());
  std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
  Tensor t(DType::Int64, dims);
  std::memcpy(t.mutable_data(), a.data(), t.nbytes());
  return labels_from_tensor(t, "labels");
}

}  // namespace

bool is_paths(const py::handle& data) {
  return py::isinstance<py::str>(data) ||
         (py::isinstance<py::list>(data) && py::len(data) > 0 && py::isinstance<py::str>(py::cast<py::list>(data)[0]));
}

void add_paths(std::vector<NamedPath>& to, const py::handle& data, const char* what) {
  if (py::isinstance<py::str>(data)) {
    to.push_back({what, py::cast<std::string>(data)});
  } else if (py::isinstance<py::list>(data) || py::isinstance<py::tuple>(data)) {
    for (const py::handle item : data)
      if (py::isinstance<py::str>(item)) to.push_back({what, py::cast<std::string>(item)});
  }
}

Dataset dataset_of(const Graph& g, const std::string& model, const py::object& data, const DataArgs& a,
                   const std::string& what) {
  DataOptions o = options_for(g, model, a);
  if (is_paths(data)) {
    if (!a.labels.is_none()) {
      BNFOLD_ARG_CHECK(py::isinstance<py::str>(a.labels), ErrorCode::InvalidArgument,
                   "with data files, labels is a path or 'subfolders'");
      o.labels = py::cast<std::string>(a.labels);
    }
    const std::vector<std::string> files = paths_of(data);
    py::gil_scoped_release release;
    return Dataset::open(files, o);
  }
  BNFOLD_ARG_CHECK(!data.is_none(), ErrorCode::InvalidArgument, "no {} given", what);
  std::vector<FloatArray> parts;
  if (py::isinstance<py::array>(data)) {
    parts.push_back(as_batch(data, o.sample_dims));
  } else {
    BNFOLD_ARG_CHECK(py::hasattr(data, "__iter__"), ErrorCode::InvalidArgument,
                 "{} must be paths, a numpy array or an iterable of arrays", what);
    for (const py::handle item : data) parts.push_back(as_batch(item, o.sample_dims));
  }
  int64_t n = 0;
  for (const auto& p : parts) n += p.shape(0);
  // The selection (sample_every, then limit), as Dataset::open makes it.
  const int64_t picked = std::min(a.limit > 0 ? a.limit : INT64_MAX, (n + a.sample_every - 1) / a.sample_every);
  BNFOLD_ARG_CHECK(picked > 0, ErrorCode::InvalidArgument, "the {} holds no samples", what);
  std::vector<int64_t> dims = o.sample_dims;
  dims.insert(dims.begin(), picked);
  Tensor t(DType::Float32, dims);
  const int64_t per = t.numel() / picked;
  int64_t i = 0, out = 0;
  for (const auto& p : parts)
    for (int64_t k = 0; k < p.shape(0); ++k, ++i)
      if (i % a.sample_every == 0 && out < picked)
        std::memcpy(t.mutable_data_as<float>() + out++ * per, p.data() + k * per, static_cast<size_t>(per) * 4);
  Dataset d = Dataset::from_tensor(t);
  d.description = std::to_string(picked) + " samples from arrays";
  if (!a.labels.is_none()) {
    std::vector<int64_t> all = labels_of(a.labels, a.label_key), chosen;
    BNFOLD_ARG_CHECK(static_cast<int64_t>(all.size()) == n, ErrorCode::InvalidArgument,
                 "{} labels for {} samples", all.size(), n);
    for (int64_t j = 0; j < n && static_cast<int64_t>(chosen.size()) < picked; j += a.sample_every)
      chosen.push_back(all[static_cast<size_t>(j)]);
    d.set_labels(chosen, "labels");
  }
  return d;
}

namespace {

// What the data argument was, for the statistics' provenance.
std::string describe_data(const py::object& data) {
  if (is_paths(data)) {
    std::string s;
    for (const auto& p : paths_of(data)) s += (s.empty() ? "" : ", ") + p;
    return s;
  }
  if (py::isinstance<py::array>(data)) return "a numpy array passed to the Python module";
  return "arrays from a Python iterable";
}

BnInputStats stamped(BnInputStats s, const AnalysisModel& model, const py::object& data) {
  s.provenance.model_sha256 = model.sha256();
  s.provenance.sources = {describe_data(data)};
  return s;
}

// BN input statistics over the data as stats_of gives them, before their provenance.
BnInputStats collect_stats_of(const AnalysisModel& model, const py::object& data, const DataArgs& a, int64_t batch,
                              int threads) {
  check_batch_size(batch);  // the library's check: arrays are fed in batches here, not by it
  if (is_paths(data)) {
    const Dataset d = dataset_of(model.graph(), model.name(), data, a);
    py::gil_scoped_release release;
    return collect_bn_input_stats(model.shared(), d, batch, threads);
  }
  const DataOptions o = options_for(model.graph(), model.name(), a);
  std::unique_ptr<BnStatsCollector> c;
  {
    py::gil_scoped_release release;
    c = std::make_unique<BnStatsCollector>(model.shared(), threads);
  }
  int64_t seen = 0, taken = 0;  // samples met, and used (sample_every, limit)
  auto feed = [&](const py::handle& item) {
    const FloatArray arr = as_batch(item, o.sample_dims);
    const int64_t n = arr.shape(0), per = arr.size() / std::max<int64_t>(n, 1);
    // The samples of this item that the selection keeps, as one contiguous batch when all are.
    std::vector<int64_t> keep;
    for (int64_t k = 0; k < n; ++k, ++seen)
      if (seen % a.sample_every == 0 && (a.limit == 0 || taken + static_cast<int64_t>(keep.size()) < a.limit))
        keep.push_back(k);
    if (keep.empty()) return;
    Tensor picked;
    const float* base = arr.data();
    if (static_cast<int64_t>(keep.size()) != n) {
      std::vector<int64_t> dims = o.sample_dims;
      dims.insert(dims.begin(), static_cast<int64_t>(keep.size()));
      picked = Tensor(DType::Float32, dims);
      for (size_t j = 0; j < keep.size(); ++j)
        std::memcpy(picked.mutable_data_as<float>() + static_cast<int64_t>(j) * per, base + keep[j] * per,
                    static_cast<size_t>(per) * 4);
      base = picked.data_as<float>();
    }
    const auto m = static_cast<int64_t>(keep.size());
    taken += m;
    py::gil_scoped_release release;
    for (int64_t start = 0; start < m; start += batch) {
      std::vector<int64_t> dims = o.sample_dims;
      dims.insert(dims.begin(), std::min(batch, m - start));
      const Tensor part = Tensor::borrow(DType::Float32, dims, const_cast<float*>(base) + start * per);
      check_finite_samples(part, taken - m + start, "the array data");
      c->add(part);
    }
  };
  if (py::isinstance<py::array>(data)) {
    feed(data);
  } else {
    BNFOLD_ARG_CHECK(!data.is_none() && py::hasattr(data, "__iter__"), ErrorCode::InvalidArgument,
                 "data must be paths, a numpy array or an iterable of arrays");
    for (const py::handle item : data) {
      feed(item);
      if (a.limit > 0 && taken >= a.limit) break;
    }
  }
  return c->stats();
}

}  // namespace

BnInputStats stats_of(const AnalysisModel& model, const py::object& data, const DataArgs& a, int64_t batch,
                      int threads) {
  return stamped(collect_stats_of(model, data, a, batch, threads), model, data);
}

}  // namespace bnfold::python
