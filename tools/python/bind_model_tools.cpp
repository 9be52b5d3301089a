// bnfold.inspect, bnfold.fold and bnfold.verify.
#include <pybind11/stl.h>

#include "bnfold/analysis/quantize.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "bnfold/graph/atomic_file.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "tools/python/module.hpp"

namespace bnfold::python {

void bind_model_tools(py::module_& m) {
  m.def(
      "inspect",
      [](const std::string& path, bool quantization) {
        std::string json, readiness;
        {
          py::gil_scoped_release release;
          const auto g = load_onnx(path);
          json = inspect_json(*g, path);
          if (quantization) {
            const ModelReadiness r = model_readiness(*g);
            readiness = readiness_json(r.layers, r.bns_folded_first);
          }
        }
        py::dict d = as_dict(json);
        if (quantization) d["quantization"] = as_dict(readiness);
        return d;
      },
      py::arg("path"), py::arg("quantization") = false,
      "What is in the ONNX model at `path`, as `bnfold inspect --json`: 'inputs' and 'outputs' (name,\n"
      "dtype, shape with symbolic dims as strings), 'opsets', 'op_counts', 'parameters', and\n"
      "'batchnorms' (each BN as a folding pass sees it: producer, consumers, channels, mode, the\n"
      "channels that block a fold). quantization=True adds 'quantization', as `inspect --quantization`:\n"
      "each layer's int8 readiness after folding (SQNRs, collapsed channels, verdict). Returns a dict.");

  m.def(
      "fold",
      [](const std::string& path, const std::string& out, bool verify, int64_t batch, bool eval_mode) {
        check_outputs_apart({{"the model", path}}, {{"out", out}});
        FoldModelOptions o;
        o.verify = verify;
        o.eval_mode = eval_mode;
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
      py::arg("path"), py::arg("out"), py::arg("verify") = true, py::arg("batch") = 2, py::arg("eval_mode") = false,
      "Folds every BatchNormalization of the ONNX model at `path` that folds exactly and writes the\n"
      "folded model to `out` (the ONNX checker accepts it; output names are kept). With `verify`,\n"
      "original and folded run on the same data-like random inputs (batch `batch`) and are measured\n"
      "against the original in float64, as `bnfold fold --verify`. Returns the report: 'batchnorms'\n"
      "(one dict per BN: action, target, reason, max_abs_error, isolated_error), 'counts', and\n"
      "'verification' when verified. eval_mode: first switch BNs in training mode to their running\n"
      "statistics (PyTorch's model.eval(); 'converted' lists them). Raises bnfold.Error.");

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
}

}  // namespace bnfold::python
