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

#include <optional>

#include "bnfold/version.hpp"
#include "graph/check.hpp"
#include "graph/error.hpp"
#include "graph/onnx_io.hpp"
#include "analysis/bn_moments.hpp"
#include "analysis/workflows.hpp"
#include "graph/sha256.hpp"
#include "tools/python/data_args.hpp"
#include "runtime/session.hpp"

namespace py = pybind11;
using namespace bnfold;
using bnfold::python::add_paths;
using bnfold::python::DataArgs;
using bnfold::python::dataset_of;
using bnfold::python::stats_of;

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
// Inputs are only read: read-only and memory-mapped arrays are taken as they
// are. A copy that fails (no memory for a large non-contiguous input) raises
// Python's own error (MemoryError).
Tensor to_tensor(py::array a, std::vector<py::array>* keep) {
  if (!(a.flags() & py::array::c_style)) {
    a = py::array::ensure(a, py::array::c_style);
    if (!a) throw py::error_already_set();
  }
  keep->push_back(a);
  std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
  return Tensor::borrow(dtype_of(a.dtype()), dims, const_cast<void*>(a.data()));
}

py::array to_numpy(Tensor t) {
  std::vector<py::ssize_t> shape(t.dims().begin(), t.dims().end());
  auto holder = new Tensor(std::move(t));  // the array owns the tensor
  py::capsule free_when_done(holder, [](void* p) { delete static_cast<Tensor*>(p); });
  return py::array(numpy_dtype(holder->dtype()), shape, holder->mutable_data(), free_when_done);
}

// The library's JSON form of a report, as a dict: the same keys as the CLI's --json.
py::object as_dict(const std::string& json_text) { return py::module_::import("json").attr("loads")(json_text); }

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

// The CLI's data options, as keyword arguments of collect_stats, drift, audit
// and recalibrate (in this order, after each function's own).
#define BNFOLD_DATA_PARAMS                                                                                    \
  const py::object &labels, const std::string &data_key, const std::string &label_key, int64_t limit,         \
      int64_t sample_every, const std::vector<int64_t> &size, int64_t resize,                                 \
      const std::vector<int64_t> &center_crop, const std::vector<float> &mean, const std::vector<float> &std, \
      const std::string &channel_order
#define BNFOLD_DATA_ARGS                                                                                 \
  py::arg("labels") = py::none(), py::arg("data_key") = "", py::arg("label_key") = "", py::arg("limit") = 0, \
      py::arg("sample_every") = 1, py::arg("size") = std::vector<int64_t>{}, py::arg("resize") = 0,          \
      py::arg("center_crop") = std::vector<int64_t>{}, py::arg("mean") = std::vector<float>{},               \
      py::arg("std") = std::vector<float>{}, py::arg("channel_order") = "rgb"
#define BNFOLD_DATA_VALUES \
  DataArgs { labels, data_key, label_key, limit, sample_every, size, center_crop, resize, mean, std, channel_order }

const char* const kDataDoc =
    "\n\ndata: paths (folders searched recursively; .npy samples or batches, .npz, ONNX .pb, PNG/JPEG\n"
    "images), one numpy array (a batch [N, C, H, W] or one sample [C, H, W]; other float dtypes are\n"
    "converted), or an iterable of arrays. As the CLI's options: labels (a .npy/.npz of class ids,\n"
    "'subfolders', or an integer array), data_key/label_key (.npz arrays), limit and sample_every\n"
    "(part of the data), and for images size (H, W), resize (shorter side, then center_crop C or\n"
    "(H, W)), mean and std (per channel, after scaling to [0, 1]) and channel_order ('rgb', 'bgr').";

std::string doc(const char* text) { return std::string(text) + kDataDoc; }

class PySession {
 public:
  PySession(const std::string& path, int threads, const std::string& bn_mode, bool reference,
            int64_t monitor_every, bool winograd)
      : path_(path) {
    SessionOptions o;
    o.threads = threads;
    o.monitor_every = monitor_every;
    o.use_onednn = !reference;
    o.winograd = winograd;
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
  py::list profile(const py::dict& inputs, int iterations) const {
    std::vector<py::array> keep;
    std::map<std::string, Tensor> in;
    for (const auto& [k, v] : inputs) in[py::cast<std::string>(k)] = to_tensor(py::array::ensure(v), &keep);
    std::vector<Session::StepTime> steps;
    {
      py::gil_scoped_release release;
      steps = session_->profile(in, iterations);
    }
    py::list out;
    for (const auto& st : steps) {
      py::dict d;
      d["step"] = st.what;
      d["node"] = st.node;
      d["implementation"] = st.implementation;
      d["ms"] = st.ms;
      d["flops"] = st.flops;
      out.append(d);
    }
    return out;
  }
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
      // A message may quote bytes from a file name or a model that are not
      // UTF-8: decoded with replacement, never an empty message.
      const std::string what = e.what();
      PyObject* text = PyUnicode_DecodeUTF8(what.data(), static_cast<Py_ssize_t>(what.size()), "replace");
      if (!text) {
        PyErr_Clear();
        text = PyUnicode_FromString("(a message that could not be decoded)");
      }
      PyErr_SetObject(error.ptr(), text);
      Py_XDECREF(text);
    } catch (const py::cast_error& e) {
      // pybind11's "Unable to cast Python instance of type ... to C++ type ..."
      // names C++ types; say what the argument should be instead.
      PyErr_SetString(PyExc_TypeError,
                      "an argument has the wrong type (see the function's help() for what each one takes)");
    }
  });

  m.def(
      "inspect",
      [](const std::string& path) {
        std::string json;
        {
          py::gil_scoped_release release;
          json = inspect_json(*load_onnx(path), path);
        }
        return as_dict(json);
      },
      py::arg("path"),
      "What is in the ONNX model at `path`, as `bnfold inspect --json`: 'inputs' and 'outputs' (name,\n"
      "dtype, shape with symbolic dims as strings), 'opsets', 'op_counts', 'parameters', and\n"
      "'batchnorms' (each BN as a folding pass sees it: producer, consumers, channels, mode, the\n"
      "channels that block a fold). Returns a dict.");

  m.def(
      "fold",
      [](const std::string& path, const std::string& out, bool verify, int64_t batch) {
        check_outputs_apart({{"the model", path}}, {{"out", out}});
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
      .def(py::init<const std::string&, int, const std::string&, bool, int64_t, bool>(), py::arg("path"),
           py::arg("threads") = 0, py::arg("bn_mode") = "inference", py::arg("reference") = false,
           py::arg("monitor_every") = 0, py::arg("winograd") = true,
           "Loads a model. threads: 0 for one per core; bn_mode: 'inference' (running statistics) or "
           "'batch' (the current batch's, as a model left in train mode); reference: the plain reference "
           "kernels instead of oneDNN (slow; an oracle); winograd: False keeps every convolution direct "
           "(SessionOptions::winograd).")
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
      .def("profile", &PySession::profile, py::arg("inputs"), py::arg("iterations") = 10,
           "Runs the inputs `iterations` times timing every step of the plan, as `bnfold bench --per-op`:\n"
           "a list of {'step' ('Conv (oneDNN) + Relu', ...), 'node', 'implementation' (oneDNN's, e.g.\n"
           "'brg:avx512_core'), 'ms' (mean per run), 'flops'}; for whole-run latency, time run() itself.")
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
      [](const std::string& path, const py::object& data, int64_t batch, int threads, BNFOLD_DATA_PARAMS) {
        BnInputStats s = stats_of(load_for_bn_analysis(path), path, data, BNFOLD_DATA_VALUES, batch, threads);
        s.model = path;
        return s;
      },
      py::arg("path"), py::arg("data"), py::arg("batch") = 32, py::arg("threads") = 0, BNFOLD_DATA_ARGS,
      doc("Runs the data through the model at `path` in inference mode and returns the statistics of\n"
          "every BN input (of a folded model too: fold records where to measure) as a Stats object.\n"
          "batch: the largest batch run at once. An iterable is consumed as it comes, never held whole.\n\n"
          "  parts = [bnfold.collect_stats('model.onnx', shard) for shard in shards]\n"
          "  total = functools.reduce(lambda a, b: a.merge(b), parts)   # equals one pass over all shards\n"
          "  bnfold.drift('model.onnx', stats=total)").c_str());

  m.def(
      "drift",
      [](const std::string& path, const py::object& data, int64_t batch, int threads, const py::object& baseline,
         const std::string& save_stats, int64_t min_samples, double threshold, double min_effect,
         const std::vector<py::object>& merge, const py::object& stats, BNFOLD_DATA_PARAMS) {
        std::vector<NamedPath> inputs = {{"the model", path}};
        add_paths(inputs, data, "the data");
        add_paths(inputs, baseline, "the baseline");
        add_paths(inputs, py::cast(merge), "merged statistics");
        add_paths(inputs, stats, "the statistics");
        add_paths(inputs, labels, "the labels");
        check_outputs_apart(inputs, {{"save_stats", save_stats}});
        std::shared_ptr<Graph> g = load_for_bn_analysis(path);
        BnInputStats all;
        for (const auto& f : merge) all.merge(stats_arg(f));
        if (!stats.is_none()) all.merge(stats_arg(stats));
        const bool no_data = data.is_none() || (py::isinstance<py::list>(data) && py::len(data) == 0);
        if (!no_data) all.merge(stats_of(g, path, data, BNFOLD_DATA_VALUES, batch, threads));
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
      py::arg("threshold") = 4.0, py::arg("min_effect") = -1.0, py::arg("merge") = std::vector<py::object>{},
      py::arg("stats") = py::none(), BNFOLD_DATA_ARGS,
      doc("Has the data left what the model's BatchNormalization layers learned? stats: a Stats object\n"
          "(or statistics file) to judge instead of, or besides, data; merge: more Stats or files added\n"
          "in. baseline: Stats or a file of in-distribution data to compare against instead of the running\n"
          "statistics (save_stats writes one). Returns the keys of `bnfold drift --json`: 'verdict'\n"
          "('drifted', 'in-distribution', 'too-few-samples'), 'samples', 'layers' (each 'bn', 'distance',\n"
          "'noise', 'ratio', 'drifted', ...), 'deciding_layers'.").c_str());

  m.def(
      "recalibrate",
      [](const std::string& path, const py::object& data, const std::string& out, const std::string& mode,
         int64_t batch, bool fold, int threads, const py::object& eval_data, const py::object& eval_labels,
         double max_eval_drop, bool unbiased_var, const py::object& stats, bool force, BNFOLD_DATA_PARAMS) {
        std::vector<NamedPath> inputs = {{"the model", path}};
        add_paths(inputs, data, "the data");
        add_paths(inputs, eval_data, "the eval data");
        add_paths(inputs, eval_labels, "the eval labels");
        add_paths(inputs, stats, "the statistics");
        add_paths(inputs, labels, "the labels");
        check_outputs_apart(inputs, {{"out", out}});
        RecalibrateOptions o;
        o.mode = parse_recalibration_mode(mode);
        o.batch = batch;
        o.fold = fold;
        o.threads = threads;
        o.unbiased_var = unbiased_var;
        o.max_eval_drop = max_eval_drop / 100;
        std::shared_ptr<const Graph> source(load_onnx(path));
        auto g = load_for_bn_analysis(path);
        const DataArgs args = BNFOLD_DATA_VALUES;
        std::optional<Dataset> eval;
        if (!eval_data.is_none() && !(py::isinstance<py::list>(eval_data) && py::len(eval_data) == 0)) {
          DataArgs e = args;
          e.labels = eval_labels;
          eval = dataset_of(*g, path, eval_data, e, "eval_data");
        }
        o.eval = eval ? &*eval : nullptr;
        std::optional<Dataset> d;
        std::optional<BnInputStats> from;
        if (!stats.is_none()) {
          BNFOLD_CHECK(data.is_none(), ErrorCode::InvalidArgument, "give data or stats, not both");
          from = stats_arg(stats);
        } else {
          d = dataset_of(*g, path, data, args);
        }
        std::string json;
        bool out_written = true;
        {
          py::gil_scoped_release release;
          o.source_sha256 = sha256_file(path);
          const RecalibrateResult r = from ? recalibrate_model(source, *from, o) : recalibrate_model(source, *d, o);
          const bool write = !r.guard_tripped || force;  // a tripped guard keeps nothing unless forced
          if (write) save_onnx(*r.model, out);
          json = recalibrate_json(r);
          if (!write) out_written = false;
        }
        py::dict result = as_dict(json);
        result["output"] = out_written ? out : "";
        return result;
      },
      py::arg("path"), py::arg("data"), py::arg("out"), py::arg("mode") = "sequential", py::arg("batch") = 32,
      py::arg("fold") = false, py::arg("threads") = 0, py::arg("eval_data") = py::none(),
      py::arg("eval_labels") = py::none(), py::arg("max_eval_drop") = 1.0, py::arg("unbiased_var") = false,
      py::arg("stats") = py::none(), py::arg("force") = false, BNFOLD_DATA_ARGS,
      doc("Re-estimates the BN running statistics on the data and writes the model to `out` (mode\n"
          "'sequential': layer by layer, each on the already recalibrated layers before it; 'update-bn':\n"
          "one pass, as torch.optim.swa_utils.update_bn); with data=None and stats= (Stats or a file,\n"
          "merged from shards anywhere) from those statistics, no pass over data. fold=True also folds.\n"
          "eval_data (held-out original data, paths or arrays; eval_labels optional) guards it: accuracy\n"
          "or agreement before and after; past max_eval_drop points the guard trips and nothing is\n"
          "written unless force=True ('guard_tripped' True, 'output' ''). Returns the keys of\n"
          "`bnfold recalibrate --json` ('eval_accuracy_before', 'eval_accuracy_after', 'warnings',\n"
          "'guard_tripped', 'output', drift before and after, ...).").c_str());

  m.def(
      "audit",
      [](const std::string& path, const py::object& data, const std::vector<int64_t>& batch_sizes, double tolerance,
         int threads, int64_t ablation_samples, BNFOLD_DATA_PARAMS) {
        AuditOptions o;
        o.batch_sizes = batch_sizes;
        o.tolerance = tolerance;
        o.threads = threads;
        o.ablation_samples = ablation_samples;
        auto g = load_for_bn_analysis(path);
        const Dataset d = dataset_of(*g, path, data, BNFOLD_DATA_VALUES);
        std::string json;
        {
          py::gil_scoped_release release;
          json = audit_json(audit(g, d, o));
        }
        return as_dict(json);
      },
      py::arg("path"), py::arg("data"), py::arg("batch_sizes") = std::vector<int64_t>{1, 2, 4, 8, 32},
      py::arg("tolerance") = 0.05, py::arg("threads") = 0, py::arg("ablation_samples") = 32, BNFOLD_DATA_ARGS,
      doc("What changes if the model is served in train mode (batch statistics) instead of inference\n"
          "mode, at each batch size: output divergence, top-1 agreement and, with labels, accuracy; each\n"
          "BN alone in train mode (the ablation) and the culprits. Returns the keys of `bnfold audit\n"
          "--json` ('batches', 'culprits', 'verdict', ...).").c_str());
}
