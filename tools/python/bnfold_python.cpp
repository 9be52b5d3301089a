// Python bindings (pybind11): `import bnfold`.
//
//   report = bnfold.fold("model.onnx", "folded.onnx", verify=True)
//   s = bnfold.Session("model.onnx", threads=2)
//   outputs = s.run({"input": x})          # dict of numpy arrays
//   bnfold.drift("model.onnx", ["data/"]), bnfold.recalibrate(...), bnfold.audit(...)
//
// bnfold::Error becomes bnfold.Error (a RuntimeError) with the library's message.
#include <fmt/format.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bnfold/version.hpp"
#include "graph/check.hpp"
#include "graph/error.hpp"
#include "graph/onnx_io.hpp"
#include "analysis/bn_moments.hpp"
#include "analysis/workflows.hpp"
#include "graph/sha256.hpp"
#include "runtime/session.hpp"

namespace py = pybind11;
using namespace bnfold;

namespace {

DType dtype_of(const py::dtype& d) {
  if (d.is(py::dtype::of<float>())) return DType::Float32;
  if (d.is(py::dtype::of<double>())) return DType::Float64;
  if (d.is(py::dtype::of<int64_t>())) return DType::Int64;
  if (d.is(py::dtype::of<int32_t>())) return DType::Int32;
  if (d.is(py::dtype::of<uint8_t>())) return DType::UInt8;
  if (d.is(py::dtype::of<int8_t>())) return DType::Int8;
  if (d.is(py::dtype::of<bool>())) return DType::Bool;
  throw Error(ErrorCode::InvalidArgument, "numpy dtype (kind '" + std::string(1, d.kind()) + "', " +
                                              std::to_string(d.itemsize()) + " bytes) is not supported");
}

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Float32: return py::dtype::of<float>();
    case DType::Float64: return py::dtype::of<double>();
    case DType::Int64: return py::dtype::of<int64_t>();
    case DType::Int32: return py::dtype::of<int32_t>();
    case DType::UInt8: return py::dtype::of<uint8_t>();
    case DType::Int8: return py::dtype::of<int8_t>();
    case DType::Bool: return py::dtype::of<bool>();
    default: throw Error(ErrorCode::Unsupported, std::string("no numpy dtype for ") + dtype_name(t));
  }
}

// A numpy array to a Tensor: zero-copy when it is C-contiguous (the array is
// kept alive by the caller for the run), else a contiguous copy.
Tensor to_tensor(py::array a, std::vector<py::array>* keep) {
  if (!(a.flags() & py::array::c_style)) a = py::array::ensure(a, py::array::c_style);
  keep->push_back(a);
  std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
  return Tensor::borrow(dtype_of(a.dtype()), dims, a.mutable_data());
}

py::array to_numpy(Tensor t) {
  std::vector<py::ssize_t> shape(t.dims().begin(), t.dims().end());
  auto holder = new Tensor(std::move(t));  // the array owns the tensor
  py::capsule free_when_done(holder, [](void* p) { delete static_cast<Tensor*>(p); });
  return py::array(numpy_dtype(holder->dtype()), shape, holder->mutable_data(), free_when_done);
}

// The library's JSON form of a report, as a dict: the same keys as the CLI's --json.
py::object as_dict(const std::string& json_text) { return py::module_::import("json").attr("loads")(json_text); }

// Runs a workflow on a model loaded for BN analysis, with the GIL released
// (other Python threads go on meanwhile); its JSON report comes back as a dict.
template <typename F>
py::object analyse(const std::string& path, F&& workflow) {
  std::string json;
  {
    py::gil_scoped_release release;
    json = workflow(load_for_bn_analysis(path));
  }
  return as_dict(json);
}

// How the data's labels come, as the CLI's --labels, --data-key, --label-key.
struct LabelArgs {
  std::string labels, data_key, label_key;
};

Dataset open_data(const Graph& g, const std::string& path, const std::vector<std::string>& data,
                  const LabelArgs& l = {}) {
  DataOptions o = data_options_for(g, path);
  o.labels = l.labels;
  o.data_key = l.data_key;
  o.label_key = l.label_key;
  return Dataset::open(data, o);
}

// Data given as paths (a str or a list of str), one array (a batch [N, ...],
// or one sample without the batch dim), or an iterable of such arrays.
// Arrays of another float dtype are converted to float32 (a copy); a
// C-contiguous float32 array is read in place.
BnInputStats stats_of(std::shared_ptr<Graph> g, const std::string& path, const py::object& data, int64_t batch,
                      int threads, const std::string& data_key) {
  if (py::isinstance<py::str>(data) || (py::isinstance<py::list>(data) && py::len(data) > 0 &&
                                        py::isinstance<py::str>(py::cast<py::list>(data)[0]))) {
    const std::vector<std::string> files = py::isinstance<py::str>(data)
                                               ? std::vector<std::string>{py::cast<std::string>(data)}
                                               : py::cast<std::vector<std::string>>(data);
    py::gil_scoped_release release;
    return collect_bn_input_stats(g, open_data(*g, path, files, {"", data_key, ""}), batch, threads);
  }
  std::unique_ptr<BnStatsCollector> c;
  {
    py::gil_scoped_release release;
    c = std::make_unique<BnStatsCollector>(g, threads);
  }
  const Shape& want = c->session().inputs()[0].shape;
  auto feed = [&](const py::handle& item) {
    auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(item);
    BNFOLD_CHECK(a, ErrorCode::InvalidArgument, "data items must be arrays of numbers");
    std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
    if (want.rank_known && dims.size() + 1 == want.rank()) dims.insert(dims.begin(), 1);  // one sample
    const Tensor t = Tensor::borrow(DType::Float32, dims, a.mutable_data());
    py::gil_scoped_release release;
    for (int64_t start = 0; start < dims[0]; start += batch) {
      const int64_t n = std::min(batch, dims[0] - start);
      std::vector<int64_t> part = dims;
      part[0] = n;
      c->add(Tensor::borrow(DType::Float32, part,
                            const_cast<float*>(t.data_as<float>()) + start * (t.numel() / std::max<int64_t>(dims[0], 1))));
    }
  };
  if (py::isinstance<py::array>(data)) {
    feed(data);
  } else {
    BNFOLD_CHECK(py::hasattr(data, "__iter__"), ErrorCode::InvalidArgument,
                 "data must be paths, a numpy array or an iterable of arrays");
    for (const py::handle item : data) feed(item);
  }
  return c->stats();
}

// A statistics argument: a Stats object or the path of a statistics file.
BnInputStats stats_arg(const py::object& o) {
  if (py::isinstance<py::str>(o)) return BnInputStats::load(py::cast<std::string>(o));
  return py::cast<BnInputStats>(o);
}

py::dict moments_dict(const ChannelMoments& m) {
  py::dict d;
  d["count"] = m.count;
  d["mean"] = py::array_t<double>(static_cast<py::ssize_t>(m.mean.size()), m.mean.data());
  const std::vector<double> v = m.variance();
  d["var"] = py::array_t<double>(static_cast<py::ssize_t>(v.size()), v.data());
  return d;
}

class PySession {
 public:
  PySession(const std::string& path, int threads, const std::string& bn_mode, bool reference,
            int64_t monitor_every)
      : path_(path) {
    SessionOptions o;
    o.threads = threads;
    o.monitor_every = monitor_every;
    o.use_onednn = !reference;
    o.bn_mode = parse_bn_mode(bn_mode);
    py::gil_scoped_release release;
    session_ = std::make_unique<Session>(path, o);
  }
  py::dict run(const py::dict& inputs) {
    std::vector<py::array> keep;
    std::map<std::string, Tensor> in;
    for (const auto& [k, v] : inputs) in[py::cast<std::string>(k)] = to_tensor(py::array::ensure(v), &keep);
    std::map<std::string, Tensor> out;
    {
      py::gil_scoped_release release;  // other Python threads may run the same session meanwhile
      out = session_->run(in);
    }
    py::dict d;
    for (auto& [k, v] : out) d[py::str(k)] = to_numpy(std::move(v));
    return d;
  }
  std::vector<std::string> input_names() const {
    std::vector<std::string> n;
    for (const auto& s : session_->inputs()) n.push_back(s.name);
    return n;
  }
  std::vector<std::string> output_names() const {
    std::vector<std::string> n;
    for (const auto& s : session_->outputs()) n.push_back(s.name);
    return n;
  }
  py::dict monitor() const {
    const MonitorSnapshot m = session_->monitor();
    py::dict d;
    d["runs"] = m.runs;
    d["sampled_runs"] = m.sampled_runs;
    d["samples"] = m.samples;
    d["batchnorms"] = m.order;
    return d;
  }
  void save_stats(const std::string& path) const {
    BNFOLD_CHECK(session_->monitor().sampled_runs > 0, ErrorCode::InvalidArgument,
                 "no run was monitored yet (Session(..., monitor_every=K) measures every K-th run)");
    stats_from_monitor(session_->monitor(), path_).save(path);
  }
  void reset_monitor() const { session_->reset_monitor(); }
  BnInputStats snapshot() const {
    BNFOLD_CHECK(session_->monitor().sampled_runs > 0, ErrorCode::InvalidArgument,
                 "no run was monitored yet (Session(..., monitor_every=K) measures every K-th run)");
    return stats_from_monitor(session_->monitor(), path_);
  }

 private:
  std::string path_;
  std::unique_ptr<Session> session_;
};

}  // namespace

PYBIND11_MODULE(bnfold, m) {
  m.doc() =
      "bnfold: BatchNormalization folding, an ONNX runtime on oneDNN, and train/inference tools.\n\n"
      "  s = bnfold.Session('model.onnx'); y = s.run({s.inputs[0]: x})\n"
      "  report = bnfold.fold('model.onnx', 'folded.onnx')\n"
      "  check = bnfold.verify('model.onnx', 'folded.onnx')\n"
      "  bnfold.drift / bnfold.audit / bnfold.recalibrate on data paths\n\n"
      "Errors raise bnfold.Error (a RuntimeError) with the library's message.";
  m.attr("__version__") = BNFOLD_VERSION_STRING;
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      error(e.what());
    }
  });

  m.def(
      "fold",
      [](const std::string& path, const std::string& out, bool verify, int64_t batch) {
        FoldModelOptions o;
        o.verify = verify;
        o.verify_options.batch = batch;
        std::unique_ptr<Graph> original = load_onnx(path);
        FoldResult r;
        {
          py::gil_scoped_release release;
          r = fold_model(*original, o);
          save_onnx(*r.model, out);
        }
        return as_dict(fold_json(r));
      },
      py::arg("path"), py::arg("out"), py::arg("verify") = true, py::arg("batch") = 2,
      "Folds every BatchNormalization of the ONNX model at `path` that folds exactly and writes the\n"
      "folded model to `out` (the ONNX checker accepts it; output names are kept). With `verify`,\n"
      "original and folded run on the same data-like random inputs (batch `batch`) and are measured\n"
      "against the original in float64, as `bnfold fold --verify`. Returns the report: 'batchnorms'\n"
      "(one dict per BN: action, target, reason, max_abs_error, isolated_error), 'counts', and\n"
      "'verification' when verified. Raises bnfold.Error.");

  m.def(
      "verify",
      [](const std::string& original, const std::string& folded, const py::object& inputs, int64_t batch,
         uint64_t seed, const std::vector<double>& mean, const std::vector<double>& std, double rtol, double atol,
         double noise_factor, bool float64_reference, int threads) {
        std::shared_ptr<Graph> a = load_onnx(original), b = load_onnx(folded);
        VerifyOptions o;
        std::vector<py::array> keep;
        if (!inputs.is_none())
          for (const auto& [k, v] : py::cast<py::dict>(inputs))
            o.inputs[py::cast<std::string>(k)] = to_tensor(py::array::ensure(v), &keep);
        o.batch = batch;
        o.seed = seed;
        o.mean = mean;
        o.std = std;
        o.rtol = rtol;
        o.atol = atol;
        o.noise_factor = noise_factor;
        o.float64_reference = float64_reference;
        o.threads = threads;
        std::string json;
        {
          py::gil_scoped_release release;
          json = verify_json(verify_fold(*a, *b, nullptr, o));
        }
        return as_dict(json);
      },
      py::arg("original"), py::arg("folded"), py::arg("inputs") = py::none(), py::arg("batch") = 2,
      py::arg("seed") = 0, py::arg("mean") = std::vector<double>{}, py::arg("std") = std::vector<double>{},
      py::arg("rtol") = 1e-4, py::arg("atol") = -1.0, py::arg("noise_factor") = 4.0,
      py::arg("float64_reference") = true, py::arg("threads") = 0,
      "Does the model at `folded` compute what the one at `original` does, within float32 noise?\n"
      "Both run in float32 on the same inputs ({name: ndarray}; the others random, per channel\n"
      "N(mean, std) given or estimated from the first BN) and are measured against `original`\n"
      "evaluated in float64. A value passes within atol + rtol |reference| (atol < 0: 1e-4 x its\n"
      "largest |value|), or identical to the original, or within noise_factor x the original's own\n"
      "float32 error. Returns the keys of `bnfold verify --json`: ok, reference, inputs,\n"
      "noise_factor, outputs and values (max_abs, float32_noise, mismatches, verdict, ok).");

  py::class_<PySession>(m, "Session")
      .def(py::init<const std::string&, int, const std::string&, bool, int64_t>(), py::arg("path"),
           py::arg("threads") = 0, py::arg("bn_mode") = "inference", py::arg("reference") = false,
           py::arg("monitor_every") = 0,
           "Loads a model. threads: 0 for one per core; bn_mode: 'inference' (running statistics) or "
           "'batch' (the current batch's, as a model left in train mode); reference: the plain reference "
           "kernels instead of oneDNN (slow; an oracle).")
      .def("run", &PySession::run, py::arg("inputs"),
           "Runs the model: {name: ndarray} -> {name: ndarray}. A C-contiguous array of the\n"
           "input's dtype is read in place; the GIL is released while the model runs, so threads may share\n"
           "one session. Raises bnfold.Error naming the input on a wrong name, dtype or shape.")
      .def_property_readonly("inputs", &PySession::input_names, "The names of the inputs a run needs, in order.")
      .def_property_readonly("outputs", &PySession::output_names, "The names of the outputs a run returns, in order.")
      .def("monitor", &PySession::monitor,
           "With monitor_every=K, every K-th run measures the statistics of every BN input (outputs\n"
           "unchanged). Returns {'runs', 'sampled_runs', 'samples', 'batchnorms'}.")
      .def("save_stats", &PySession::save_stats, py::arg("path"),
           "Writes what monitoring measured as a statistics file, the format of `bnfold drift\n"
           "--save-stats`: compare it with drift(..., merge=[path], baseline=...) or `bnfold drift MODEL\n"
           "--merge PATH --baseline BASE.json`.")
      .def("reset_monitor", &PySession::reset_monitor, "Forgets what monitoring measured so far.")
      .def("snapshot", &PySession::snapshot,
           "What monitoring measured so far, as a Stats object (the statistics drift(), collect_stats()\n"
           "and `bnfold drift --save-stats` make): save it, merge it, pass it to drift(stats=...).");

  py::class_<BnInputStats>(m, "Stats",
                           "Per-channel statistics of every BN input over some data: count, mean and M2 per channel\n"
                           "(Chan's parallel form), so partial statistics from shards merge into exactly those of one\n"
                           "pass. Made by collect_stats(), Session.snapshot() or Stats.load(); picklable (Dask,\n"
                           "multiprocessing ship it between processes).")
      .def_static("load", &BnInputStats::load, py::arg("path"),
                  "Reads a statistics file (`bnfold drift --save-stats`, Stats.save); refuses one of another\n"
                  "format version, or edited or damaged (checksummed).")
      .def("save", &BnInputStats::save, py::arg("path"), "Writes the statistics file (JSON, checksummed).")
      .def(
          "merge",
          [](BnInputStats& self, const BnInputStats& other) -> BnInputStats& {
            self.merge(other);
            return self;
          },
          py::arg("other"), py::return_value_policy::reference_internal,
          "Adds `other` (statistics of more data, same model) in place; returns self, so\n"
          "functools.reduce(lambda a, b: a.merge(b), parts) works. Raises bnfold.Error for statistics\n"
          "of another model.")
      .def("copy", [](const BnInputStats& self) { return self; }, "An independent copy.")
      .def_readwrite("model", &BnInputStats::model, "The model they were collected for (a name or path).")
      .def_readonly("samples", &BnInputStats::samples, "How many samples they cover.")
      .def_readonly("batchnorms", &BnInputStats::order, "The BNs measured, in plan order.")
      .def_property_readonly("bn_signature", &BnInputStats::bn_signature,
                             "A digest of the BNs' names and channel counts: equal for a model and its folded form.")
      .def(
          "moments", [](const BnInputStats& self, const std::string& bn) {
            auto it = self.per_bn.find(bn);
            BNFOLD_CHECK(it != self.per_bn.end(), ErrorCode::InvalidArgument, "no statistics for BN '{}'", bn);
            return moments_dict(it->second);
          },
          py::arg("bn"), "{'count', 'mean', 'var'} of one BN's input (var: biased, per channel).")
      .def(py::pickle([](const BnInputStats& self) { return self.to_json(); },
                      [](const std::string& text) { return BnInputStats::parse(text, "pickled bnfold.Stats"); }))
      .def("__repr__", [](const BnInputStats& self) {
        return fmt::format("<bnfold.Stats of {} samples, {} BNs, model '{}'>", self.samples, self.order.size(),
                           self.model);
      });

  m.def(
      "collect_stats",
      [](const std::string& path, const py::object& data, int64_t batch, int threads, const std::string& data_key) {
        BnInputStats s = stats_of(load_for_bn_analysis(path), path, data, batch, threads, data_key);
        s.model = path;
        return s;
      },
      py::arg("path"), py::arg("data"), py::arg("batch") = 32, py::arg("threads") = 0, py::arg("data_key") = "",
      "Runs the data through the model at `path` in inference mode and returns the statistics of\n"
      "every BN input (of a folded model too: fold records where to measure) as a Stats object.\n"
      "data: paths (folders, .npy/.npz/.pb files, images; as the CLI's -d), one numpy array (a batch\n"
      "[N, C, H, W], or one sample [C, H, W]), or any iterable of such arrays (a generator, a Dask\n"
      "partition); float arrays of another dtype are converted. batch: the largest batch run at once.\n\n"
      "  parts = [bnfold.collect_stats('model.onnx', shard) for shard in shards]\n"
      "  total = functools.reduce(lambda a, b: a.merge(b), parts)   # equals one pass over all shards\n"
      "  bnfold.drift('model.onnx', stats=total)");

  m.def(
      "drift",
      [](const std::string& path, const py::object& data, int64_t batch, int threads, const py::object& baseline,
         const std::string& save_stats, int64_t min_samples, double threshold, double min_effect,
         const std::string& data_key, const std::vector<py::object>& merge, const py::object& stats) {
        std::shared_ptr<Graph> g = load_for_bn_analysis(path);
        BnInputStats all;
        for (const auto& f : merge) all.merge(stats_arg(f));
        if (!stats.is_none()) all.merge(stats_arg(stats));
        const bool no_data = data.is_none() || (py::isinstance<py::list>(data) && py::len(data) == 0);
        if (!no_data) all.merge(stats_of(g, path, data, batch, threads, data_key));
        BNFOLD_CHECK(all.samples > 0, ErrorCode::InvalidArgument, "give data, stats= or merge= statistics");
        all.model = path;
        BnInputStats base;
        DriftOptions o;
        if (!baseline.is_none() && !(py::isinstance<py::str>(baseline) && py::cast<std::string>(baseline).empty())) {
          base = stats_arg(baseline);
          o.baseline = &base;
        }
        o.min_samples = min_samples;
        o.threshold = threshold;
        o.min_effect = min_effect;
        std::string json;
        {
          py::gil_scoped_release release;
          if (!save_stats.empty()) all.save(save_stats);
          json = drift_json(compute_drift(*g, all, o));
        }
        return as_dict(json);
      },
      py::arg("path"), py::arg("data") = py::none(), py::arg("batch") = 32, py::arg("threads") = 0,
      py::arg("baseline") = py::none(), py::arg("save_stats") = "", py::arg("min_samples") = 30,
      py::arg("threshold") = 4.0, py::arg("min_effect") = -1.0, py::arg("data_key") = "",
      py::arg("merge") = std::vector<py::object>{}, py::arg("stats") = py::none(),
      "Has the data left what the model's BatchNormalization layers learned? data: paths (folders,\n"
      ".npy/.npz/.pb files, images), a numpy array or an iterable of arrays (as collect_stats);\n"
      "stats: a Stats object (or statistics file) to judge instead of, or besides, data; merge: more\n"
      "Stats or files added in. baseline: Stats or a file of in-distribution data to compare against\n"
      "instead of the running statistics (save_stats writes one). Returns the keys of `bnfold drift\n"
      "--json`: 'verdict' ('drifted', 'in-distribution', 'too-few-samples'), 'samples', 'layers'\n"
      "(each 'bn', 'distance', 'noise', 'ratio', 'drifted', ...), 'deciding'.");

  m.def(
      "recalibrate",
      [](const std::string& path, const std::vector<std::string>& data, const std::string& out,
         const std::string& mode, int64_t batch, bool fold, int threads, const std::string& labels,
         const std::vector<std::string>& eval_data, const std::string& eval_labels, double max_eval_drop,
         bool unbiased_var) {
        RecalibrateOptions o;
        o.mode = parse_recalibration_mode(mode);
        o.batch = batch;
        o.fold = fold;
        o.threads = threads;
        o.unbiased_var = unbiased_var;
        o.max_eval_drop = max_eval_drop / 100;
        std::string json;
        {
          py::gil_scoped_release release;
          std::shared_ptr<const Graph> source(load_onnx(path));
          auto g = load_for_bn_analysis(path);
          const Dataset d = open_data(*g, path, data, {labels, "", ""});
          std::optional<Dataset> eval;
          if (!eval_data.empty()) eval = open_data(*g, path, eval_data, {eval_labels, "", ""});
          o.eval = eval ? &*eval : nullptr;
          o.source_sha256 = sha256_file(path);
          const RecalibrateResult r = recalibrate_model(source, d, o);
          save_onnx(*r.model, out);
          json = recalibrate_json(r);
        }
        return as_dict(json);
      },
      py::arg("path"), py::arg("data"), py::arg("out"), py::arg("mode") = "sequential", py::arg("batch") = 32,
      py::arg("fold") = false, py::arg("threads") = 0, py::arg("labels") = "",
      py::arg("eval_data") = std::vector<std::string>{}, py::arg("eval_labels") = "", py::arg("max_eval_drop") = 1.0,
      py::arg("unbiased_var") = false,
      "Re-estimates the BN running statistics on the data and writes the model to `out` (mode\n"
      "'sequential': layer by layer, each on the already recalibrated layers before it; 'update-bn':\n"
      "one pass, as torch.optim.swa_utils.update_bn); fold=True also folds. eval_data (held-out\n"
      "original data, eval_labels optional) guards it: accuracy or agreement before and after, a\n"
      "warning past max_eval_drop points. Returns the keys of `bnfold recalibrate --json`\n"
      "('eval_accuracy_before', 'eval_accuracy_after', 'warnings', drift before and after, ...).");

  m.def(
      "audit",
      [](const std::string& path, const std::vector<std::string>& data, const std::vector<int64_t>& batch_sizes,
         double tolerance, int threads, const std::string& labels, const std::string& data_key,
         const std::string& label_key, int64_t ablation_samples) {
        AuditOptions o;
        o.batch_sizes = batch_sizes;
        o.tolerance = tolerance;
        o.threads = threads;
        o.ablation_samples = ablation_samples;
        return analyse(path, [&](std::shared_ptr<Graph> g) {
          return audit_json(audit(g, open_data(*g, path, data, {labels, data_key, label_key}), o));
        });
      },
      py::arg("path"), py::arg("data"), py::arg("batch_sizes") = std::vector<int64_t>{1, 2, 4, 8, 32},
      py::arg("tolerance") = 0.05, py::arg("threads") = 0, py::arg("labels") = "", py::arg("data_key") = "",
      py::arg("label_key") = "", py::arg("ablation_samples") = 32,
      "What changes if the model is served in train mode (batch statistics) instead of inference\n"
      "mode, at each batch size: output divergence, top-1 agreement and, with labels (a .npy/.npz\n"
      "of class ids, or 'subfolders'), accuracy; each BN alone in train mode (the ablation) and the\n"
      "culprits. Returns the keys of `bnfold audit --json` ('batches', 'culprits', 'verdict', ...).");
}
