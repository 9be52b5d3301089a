// bnfold.Session (runs, monitoring, profiling) and bnfold.Stats.
#include <fmt/format.h>
#include <pybind11/stl.h>

#include <memory>

#include "bnfold/analysis/workflows.hpp"
#include "tools/arg_check.hpp"
#include "bnfold/runtime/session.hpp"
#include "tools/python/module.hpp"

namespace bnfold::python {

namespace {

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
            int64_t monitor_every, bool winograd, const std::string& precision)
      : path_(path) {
    SessionOptions o;
    o.threads = threads;
    o.monitor_every = monitor_every;
    o.use_onednn = !reference;
    o.winograd = winograd;
    o.bn_mode = parse_bn_mode(bn_mode);
    o.precision = parse_precision(precision);
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
    BNFOLD_ARG_CHECK(session_->monitor().sampled_runs > 0, ErrorCode::InvalidArgument,
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
    BNFOLD_ARG_CHECK(session_->monitor().sampled_runs > 0, ErrorCode::InvalidArgument,
                 "no run was monitored yet (Session(..., monitor_every=K) measures every K-th run)");
    return stats_from_monitor(session_->monitor(), path_);
  }

 private:
  std::string path_;
  std::unique_ptr<Session> session_;
};

}  // namespace

void bind_session(py::module_& m) {
  m.def(
      "bfloat16_support", [] { return bfloat16_support(); },
      "True when this CPU runs bfloat16 kernels natively (AVX512-BF16 or AMX): Session(precision='bf16') needs it.");
  py::class_<PySession>(m, "Session")
      .def(py::init<const std::string&, int, const std::string&, bool, int64_t, bool, const std::string&>(),
           py::arg("path"), py::arg("threads") = 0, py::arg("bn_mode") = "inference", py::arg("reference") = false,
           py::arg("monitor_every") = 0, py::arg("winograd") = true, py::arg("precision") = "fp32",
           "Loads a model. threads: 0 for one per core; bn_mode: 'inference' (running statistics) or "
           "'batch' (the current batch's, as a model left in train mode); reference: the plain reference "
           "kernels instead of oneDNN (slow; an oracle); winograd: False keeps every convolution direct "
           "(SessionOptions::winograd); precision: 'fp32', or 'bf16' (convolutions, Gemm and MatMul in "
           "bfloat16 with float32 accumulation, float32 inputs and outputs; needs AVX512-BF16 or AMX, "
           "bnfold.bfloat16_support() tells).")
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
      .def_property_readonly(
          "provenance",
          [](const BnInputStats& self) {
            const StatsProvenance& p = self.provenance;
            return py::dict(py::arg("model_sha256") = p.model_sha256, py::arg("collected_from") = p.collected_from,
                            py::arg("collected_until") = p.collected_until, py::arg("sources") = p.sources);
          },
          "Where they came from: {'model_sha256' (of the model file), 'collected_from', 'collected_until' (ISO "
          "8601 UTC), 'sources' (data paths, arrays, a monitoring session)}; '' or [] where unknown. Merging keeps "
          "the earliest and latest times and every source.")
      .def_property_readonly("bn_signature", &BnInputStats::bn_signature,
                             "A digest of the BNs' names and channel counts: equal for a model and its folded form.")
      .def(
          "moments", [](const BnInputStats& self, const std::string& bn) {
            auto it = self.per_bn.find(bn);
            BNFOLD_ARG_CHECK(it != self.per_bn.end(), ErrorCode::InvalidArgument, "no statistics for BN '{}'", bn);
            return moments_dict(it->second);
          },
          py::arg("bn"), "{'count', 'mean', 'var'} of one BN's input (var: biased, per channel).")
      .def(py::pickle([](const BnInputStats& self) { return self.to_json(); },
                      [](const std::string& text) { return BnInputStats::parse(text, "pickled bnfold.Stats"); }))
      .def("__repr__", [](const BnInputStats& self) {
        return fmt::format("<bnfold.Stats of {} samples, {} BNs, model '{}'>", self.samples, self.order.size(),
                           self.model);
      });
}

}  // namespace bnfold::python
