// Python bindings (pybind11): `import bnfold`.
//
//   report = bnfold.fold("model.onnx", "folded.onnx", verify=True)
//   s = bnfold.Session("model.onnx", threads=2)
//   outputs = s.run({"input": x})          # dict of numpy arrays
//   bnfold.drift("model.onnx", ["data/"]), bnfold.recalibrate(...), bnfold.audit(...)
//
// bnfold::Error becomes bnfold.Error (a RuntimeError) with the library's message.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bnfold/version.hpp"
#include "graph/error.hpp"
#include "graph/onnx_io.hpp"
#include "passes/fold.hpp"
#include "runtime/bn_analysis.hpp"
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

py::dict row_dict(const BnFoldRow& r) {
  py::dict d;
  d["bn"] = r.bn;
  d["producer_op"] = r.producer_op;
  d["consumer_ops"] = r.consumer_ops;
  d["action"] = r.action;
  d["target"] = r.target;
  d["reason"] = r.reason;
  d["description"] = r.describe();
  d["max_abs_error"] = r.max_abs_error >= 0 ? py::cast(r.max_abs_error) : py::none();
  return d;
}

Dataset open_data(const Graph& g, const std::vector<std::string>& paths) {
  const auto req = g.required_inputs();
  if (req.size() != 1) throw Error(ErrorCode::Unsupported, "the model must have one input");
  DataOptions o;
  o.dtype = req[0]->dtype();
  for (size_t k = 1; k < req[0]->shape().rank(); ++k) o.sample_dims.push_back(req[0]->shape().dims[k].value);
  return Dataset::open(paths, o);
}

class PySession {
 public:
  PySession(const std::string& path, int threads, const std::string& bn_mode) {
    SessionOptions o;
    o.threads = threads;
    if (bn_mode == "batch") o.bn_mode = BnMode::BatchStatistics;
    else if (bn_mode != "inference") throw Error(ErrorCode::InvalidArgument, "bn_mode: 'inference' or 'batch'");
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

 private:
  std::unique_ptr<Session> session_;
};

}  // namespace

PYBIND11_MODULE(bnfold, m) {
  m.doc() = "bnfold: BatchNormalization folding, an ONNX runtime on oneDNN, and train/inference tools";
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
        auto original = load_onnx(path);
        auto folded = clone_graph(*original);
        FoldReport report = fold_batchnorms(*folded);
        py::dict result;
        if (verify) {
          VerifyOptions vo;
          vo.batch = batch;
          const VerifyResult v = verify_fold(*original, *folded, &report, vo);
          py::list outs;
          for (const auto& c : v.outputs) {
            py::dict d;
            d["output"] = c.name;
            d["max_abs"] = c.max_abs;
            d["max_rel"] = c.max_rel;
            d["mismatches"] = c.mismatches;
            outs.append(d);
          }
          result["verified"] = v.ok;
          result["outputs"] = outs;
        }
        save_onnx(*folded, out);
        py::list rows;
        for (const auto& r : report.rows()) rows.append(row_dict(r));
        result["batchnorms"] = rows;
        result["folded"] = report.count("folded") + report.count("folded forward");
        result["total"] = report.rows().size();
        return result;
      },
      py::arg("path"), py::arg("out"), py::arg("verify") = true, py::arg("batch") = 2,
      "Folds every BatchNormalization of the model at `path` and writes `out`; returns the report.");

  py::class_<PySession>(m, "Session")
      .def(py::init<const std::string&, int, const std::string&>(), py::arg("path"), py::arg("threads") = 0,
           py::arg("bn_mode") = "inference")
      .def("run", &PySession::run, py::arg("inputs"), "Runs the model: {name: ndarray} -> {name: ndarray}.")
      .def_property_readonly("inputs", &PySession::input_names)
      .def_property_readonly("outputs", &PySession::output_names);

  m.def(
      "drift",
      [](const std::string& path, const std::vector<std::string>& data, int64_t batch) {
        std::shared_ptr<Graph> g(load_onnx(path));
        run_pipeline(*g, PipelineOptions{{"constant-folding", "dead-code"}, false}, nullptr);
        const DriftReport r = compute_drift(*g, collect_bn_input_stats(g, open_data(*g, data), batch, 0));
        py::list layers;
        for (const auto& l : r.layers) {
          py::dict d;
          d["bn"] = l.bn;
          d["score"] = l.score;
          d["shifted_share"] = l.shifted_share;
          d["mean_shift_sigma"] = l.mean_shift_sigma;
          d["var_ratio"] = l.var_ratio;
          layers.append(d);
        }
        py::dict out;
        out["max_score"] = r.max_score;
        out["mean_score"] = r.mean_score;
        out["samples"] = r.samples;
        out["layers"] = layers;
        return out;
      },
      py::arg("path"), py::arg("data"), py::arg("batch") = 32);

  m.def(
      "recalibrate",
      [](const std::string& path, const std::vector<std::string>& data, const std::string& out,
         const std::string& mode, int64_t batch) {
        auto g = load_onnx(path);
        run_pipeline(*g, PipelineOptions{{"constant-folding", "dead-code"}, false}, nullptr);
        const RecalibrationReport r =
            recalibrate(*g, open_data(*g, data), mode == "update-bn" ? RecalibrationMode::UpdateBn
                                                                     : RecalibrationMode::Sequential,
                        batch, 0);
        save_onnx(*g, out);
        py::dict d;
        d["mode"] = recalibration_mode_name(r.mode);
        d["layers"] = r.layers.size();
        d["passes"] = r.passes;
        return d;
      },
      py::arg("path"), py::arg("data"), py::arg("out"), py::arg("mode") = "sequential", py::arg("batch") = 32);

  m.def(
      "audit",
      [](const std::string& path, const std::vector<std::string>& data, const std::vector<int64_t>& batch_sizes) {
        std::shared_ptr<Graph> g(load_onnx(path));
        AuditOptions o;
        o.batch_sizes = batch_sizes;
        const AuditReport r = audit(g, open_data(*g, data), o);
        py::list div;
        for (const auto& x : r.divergence) {
          py::dict d;
          d["batch"] = x.batch;
          d["output"] = x.output;
          d["max_abs"] = x.max_abs;
          d["rel_l2"] = x.rel_l2;
          d["cosine"] = x.cosine;
          div.append(d);
        }
        py::dict d;
        d["divergence"] = div;
        d["degenerate_at_batch_1"] = r.degenerate_at_batch_1;
        d["agree_from_batch"] = r.agree_from_batch;
        d["verdict"] = r.verdict;
        return d;
      },
      py::arg("path"), py::arg("data"), py::arg("batch_sizes") = std::vector<int64_t>{1, 2, 4, 8, 32});
}
