// bnfold.collect_stats, drift, recalibrate, audit and shift_study: the
// train/inference workflows, taking the CLI's data options as keywords.
#include <pybind11/stl.h>

#include <cstring>
#include <optional>
#include <tuple>

#include "bnfold/analysis/corruptions.hpp"
#include "bnfold/analysis/precision_check.hpp"
#include "bnfold/analysis/quantize.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/analysis/shift_study.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "bnfold/graph/atomic_file.hpp"
#include "tools/arg_check.hpp"
#include "bnfold/graph/sha256.hpp"
#include "tools/python/data_args.hpp"
#include "tools/python/module.hpp"

namespace bnfold::python {

namespace {

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

// True when `data` says "no data": None or an empty list.
bool no_data(const py::object& data) { return data.is_none() || (py::isinstance<py::list>(data) && py::len(data) == 0); }

void bind_collect_stats(py::module_& m) {
  m.def(
      "collect_stats",
      [](const std::string& path, const py::object& data, int64_t batch, int threads, BNFOLD_DATA_PARAMS) {
        BnInputStats s = stats_of(AnalysisModel::load(path), data, BNFOLD_DATA_VALUES, batch, threads);
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
}

void bind_drift(py::module_& m) {
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
        const AnalysisModel model = AnalysisModel::load(path);
        DriftRequest q;
        for (const auto& f : merge) q.statistics.push_back(stats_arg(f));
        if (!stats.is_none()) q.statistics.push_back(stats_arg(stats));
        // Arrays and iterables are consumed as they come: collected here, judged by the library.
        if (!no_data(data)) q.statistics.push_back(stats_of(model, data, BNFOLD_DATA_VALUES, batch, threads));
        BnInputStats base;
        if (!baseline.is_none() && !(py::isinstance<py::str>(baseline) && py::cast<std::string>(baseline).empty())) {
          base = stats_arg(baseline);
          q.options.baseline = &base;
        }
        q.options.min_samples = min_samples;
        q.options.threshold = threshold;
        q.options.min_effect = min_effect;
        std::string json;
        {
          py::gil_scoped_release release;
          const DriftResult r = drift_model(model, q);
          if (!save_stats.empty()) r.stats.save(save_stats);
          json = drift_json(r.report);
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
}

void bind_recalibrate(py::module_& m) {
  m.def(
      "recalibrate",
      [](const std::string& path, const py::object& data, const std::string& out, const std::string& mode,
         int64_t batch, bool fold, int threads, const py::object& eval_data, const py::object& eval_labels,
         double max_eval_drop, bool unbiased_var, const py::object& stats, bool force, double prior,
         BNFOLD_DATA_PARAMS) {
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
        o.prior = prior;
        o.max_eval_drop = max_eval_drop / 100;
        const AnalysisModel model = AnalysisModel::load(path);
        const DataArgs args = BNFOLD_DATA_VALUES;
        std::optional<Dataset> eval;
        if (!no_data(eval_data)) {
          DataArgs e = args;
          e.labels = eval_labels;
          eval = dataset_of(model.graph(), path, eval_data, e, "eval_data");
        }
        o.eval = eval ? &*eval : nullptr;
        std::optional<Dataset> d;
        std::optional<BnInputStats> from;
        if (!stats.is_none()) {
          BNFOLD_ARG_CHECK(data.is_none(), ErrorCode::InvalidArgument, "give data or stats, not both");
          from = stats_arg(stats);
        } else {
          d = dataset_of(model.graph(), path, data, args);
        }
        std::string json;
        {
          py::gil_scoped_release release;
          o.source_sha256 = sha256_file(path);
          RecalibrateResult r = from ? recalibrate_model(model, *from, o) : recalibrate_model(model, *d, o);
          write_recalibrated(r, out, force);
          json = recalibrate_json(r);
        }
        return as_dict(json);
      },
      py::arg("path"), py::arg("data"), py::arg("out"), py::arg("mode") = "sequential", py::arg("batch") = 32,
      py::arg("fold") = false, py::arg("threads") = 0, py::arg("eval_data") = py::none(),
      py::arg("eval_labels") = py::none(), py::arg("max_eval_drop") = 1.0, py::arg("unbiased_var") = false,
      py::arg("stats") = py::none(), py::arg("force") = false, py::arg("prior") = 0.0, BNFOLD_DATA_ARGS,
      doc("Re-estimates the BN running statistics on the data and writes the model to `out` (mode\n"
          "'sequential': layer by layer, each on the already recalibrated layers before it; 'update-bn':\n"
          "one pass, as torch.optim.swa_utils.update_bn); with data=None and stats= (Stats or a file,\n"
          "merged from shards anywhere) from those statistics, no pass over data. fold=True also folds.\n"
          "prior=N keeps the model's statistics as N pseudo-samples beside the data's (mixed, not replaced).\n"
          "eval_data (held-out original data, paths or arrays; eval_labels optional) guards it: accuracy\n"
          "or agreement before and after; past max_eval_drop points the guard trips and nothing is\n"
          "written unless force=True ('guard_tripped' True, 'output' ''). Returns the keys of\n"
          "`bnfold recalibrate --json` ('eval_accuracy_before', 'eval_accuracy_after', 'warnings',\n"
          "'guard_tripped', 'output', drift before and after, ...).").c_str());
}

void bind_audit(py::module_& m) {
  m.def(
      "audit",
      [](const std::string& path, const py::object& data, const std::vector<int64_t>& batch_sizes, double tolerance,
         int threads, int64_t ablation_samples, const std::vector<std::string>& precisions, BNFOLD_DATA_PARAMS) {
        AuditOptions o;
        o.precisions = precisions;
        check_audit_precisions(o.precisions);
        o.batch_sizes = batch_sizes;
        o.tolerance = tolerance;
        o.threads = threads;
        o.ablation_samples = ablation_samples;
        const AnalysisModel model = AnalysisModel::load(path);
        const Dataset d = dataset_of(model.graph(), path, data, BNFOLD_DATA_VALUES);
        std::string json;
        {
          py::gil_scoped_release release;
          json = audit_json(audit(model, d, o));
        }
        return as_dict(json);
      },
      py::arg("path"), py::arg("data"), py::arg("batch_sizes") = std::vector<int64_t>{1, 2, 4, 8, 32},
      py::arg("tolerance") = 0.05, py::arg("threads") = 0, py::arg("ablation_samples") = 32,
      py::arg("precisions") = std::vector<std::string>{}, BNFOLD_DATA_ARGS,
      doc("What changes if the model is served in train mode (batch statistics) instead of inference\n"
          "mode, at each batch size: output divergence, top-1 agreement and, with labels, accuracy; each\n"
          "BN alone in train mode (the ablation) and the culprits. precisions: also 'bf16' and/or 'int8'\n"
          "against float32 inference on the same data ('precisions' in the result). Returns the keys of\n"
          "`bnfold audit --json` ('batches', 'culprits', 'verdict', ...).").c_str());
}

void bind_shift_study(py::module_& m) {
  m.def(
      "shift_study",
      [](const std::string& path, const py::object& data, const std::vector<std::string>& families,
         const std::vector<int>& severities, const std::vector<int64_t>& recalibrate_on, double prior, uint64_t seed,
         const std::vector<double>& pixel_range, double max_drop, const py::object& baseline, double threshold,
         double min_effect, int64_t batch, int threads, const std::string& html, BNFOLD_DATA_PARAMS) {
        std::vector<NamedPath> inputs = {{"the model", path}};
        add_paths(inputs, data, "the data");
        add_paths(inputs, baseline, "the baseline");
        add_paths(inputs, labels, "the labels");
        check_outputs_apart(inputs, {{"html", html}});
        ShiftStudyOptions o;
        o.families = families;
        o.severities = severities;
        o.recalibration_samples = recalibrate_on;
        o.prior = prior;
        o.seed = seed;
        o.pixel_range = pixel_range;
        o.max_drop = max_drop;
        BnInputStats base;
        if (!baseline.is_none()) {
          base = stats_arg(baseline);
          o.drift.baseline = &base;
        }
        o.drift.threshold = threshold;
        o.drift.min_effect = min_effect;
        o.batch = batch;
        o.threads = threads;
        check_shift_study_options(o);
        const AnalysisModel model = AnalysisModel::load(path);
        const Dataset d = dataset_of(model.graph(), path, data, BNFOLD_DATA_VALUES);
        std::string json;
        {
          py::gil_scoped_release release;
          const ShiftStudyReport r = shift_study(model, d, o);
          if (!html.empty()) write_shift_study_html(html, r);
          json = shift_study_json(r);
        }
        return as_dict(json);
      },
      py::arg("path"), py::arg("data"), py::arg("families") = std::vector<std::string>{},
      py::arg("severities") = std::vector<int>{1, 2, 3, 4, 5},
      py::arg("recalibrate_on") = std::vector<int64_t>{1, 8, 32, 256}, py::arg("prior") = 16.0,
      py::arg("seed") = 0, py::arg("pixel_range") = std::vector<double>{}, py::arg("max_drop") = 0.05,
      py::arg("baseline") = py::none(), py::arg("threshold") = 4.0, py::arg("min_effect") = -1.0,
      py::arg("batch") = 32, py::arg("threads") = 0, py::arg("html") = "", BNFOLD_DATA_ARGS,
      doc("Before deployment: the model under synthetic shifts (`bnfold shift-study`). Each family in\n"
          "families (default all: bnfold.corruption_families()) at each severity corrupts every sample in\n"
          "pixel space (images: [0, 1] before mean/std; arrays: pixel_range (lo, hi), else the data's\n"
          "range), then measures accuracy (with labels) or agreement with the clean predictions, drift\n"
          "against the clean data (or baseline) and the samples it needed, and the accuracy after\n"
          "recalibrating on the cell's first k samples (recalibrate_on), replaced and mixed with the\n"
          "model's statistics as `prior` pseudo-samples. max_drop: a loss (share) drift must warn of.\n"
          "Returns the keys of `bnfold shift-study --json` ('cells', 'families', 'summary', 'misses',\n"
          "'calibration', ...); html writes the report.").c_str());
  m.def(
      "corrupt",
      [](py::array_t<float, py::array::c_style | py::array::forcecast> pixels, const std::string& family,
         int severity, uint64_t seed, int64_t first) {
        std::vector<py::array> keep;
        Tensor in = to_tensor(pixels, &keep);
        Tensor t(DType::Float32, in.dims());
        std::memcpy(t.mutable_data(), in.data(), in.nbytes());
        {
          py::gil_scoped_release release;
          corrupt(t, family, severity, seed, first);
        }
        return to_numpy(std::move(t));
      },
      py::arg("pixels"), py::arg("family"), py::arg("severity"), py::arg("seed") = 0, py::arg("first") = 0,
      "One corruption of the shift study on images [N, C, H, W] with pixels in [0, 1]; returns a new\n"
      "array. first: the index of pixels[0] in the data set (the random draws depend on it, the seed,\n"
      "the family and the severity, never on the batch), so shift_study's arrays are reproduced.");
  m.def(
      "corruption_families",
      [] {
        std::vector<std::tuple<std::string, std::string, std::string>> out;
        for (const auto& f : corruption_families()) out.emplace_back(f.name, f.description, f.parameter);
        return out;
      },
      "The shift study's corruption families: (name, what it models, what severity 1-5 sets).");
}

}  // namespace

void bind_quantize(py::module_& m) {
  m.def(
      "quantize",
      [](const std::string& path, const std::string& out, const py::object& data, const std::vector<double>& input_range,
         bool equalize, bool bias_correction, int64_t check_samples, int64_t batch, int threads,
         BNFOLD_DATA_PARAMS) {
        std::vector<NamedPath> inputs = {{"the model", path}};
        add_paths(inputs, data, "the data");
        add_paths(inputs, labels, "the labels");
        check_outputs_apart(inputs, {{"out", out}});
        BNFOLD_ARG_CHECK(data.is_none() || input_range.empty(), ErrorCode::InvalidArgument,
                         "input_range is for quantizing without data; with data the input's range is measured");
        BNFOLD_ARG_CHECK(!data.is_none() || labels.is_none(), ErrorCode::InvalidArgument,
                         "labels go with data (they give the int8 model's accuracy on it)");
        BNFOLD_ARG_CHECK(input_range.empty() || (input_range.size() == 2 && input_range[0] < input_range[1]),
                         ErrorCode::InvalidArgument, "input_range takes (lo, hi) with lo < hi");
        const auto g = load_onnx(path);
        QuantizeOptions o;
        o.input_range = input_range;
        o.equalize = equalize;
        o.bias_correction = bias_correction;
        o.batch = batch;
        o.threads = threads;
        std::optional<Dataset> d;
        if (!data.is_none()) {
          d = dataset_of(*g, path, data, BNFOLD_DATA_VALUES);
          o.data = &*d;
        }
        std::string json;
        {
          py::gil_scoped_release release;
          const QuantizeResult r = quantize_model(*g, o);
          save_onnx(*r.model, out);
          std::optional<QuantizeCheck> c;
          if (d) c = check_quantized(r, *d, check_samples, batch, threads);
          json = quantize_json(r, c ? &*c : nullptr);
        }
        return as_dict(json);
      },
      py::arg("path"), py::arg("out"), py::arg("data") = py::none(), py::arg("input_range") = std::vector<double>{},
      py::arg("equalize") = false, py::arg("bias_correction") = false, py::arg("check_samples") = 1024, py::arg("batch") = 32, py::arg("threads") = 0,
      BNFOLD_DATA_ARGS,
      doc("An int8 QDQ model of `path` written to `out` (`bnfold quantize`): folded first (equalized with\n"
          "equalize=True; biases corrected for the weights' rounding from the BN statistics with\n"
          "bias_correction=True), activation ranges from `data` (paths, an array or an iterable of arrays), or\n"
          "without data from the folded BNs' statistics and input_range (lo, hi) for the model's input.\n"
          "With data, the int8 model is also compared with the float one on check_samples samples.\n"
          "Returns the keys of `bnfold quantize --json` ('layers', 'skipped', 'ranges_from', 'check').")
          .c_str());
}

void bind_check_precision(py::module_& m) {
  m.def(
      "check_precision",
      [](const std::string& original, const std::string& candidate, const std::string& precision,
         const py::object& data, int64_t samples, int64_t batch, double max_accuracy_drop, double max_relative_error,
         bool float64_reference, uint64_t seed, int threads, BNFOLD_DATA_PARAMS) {
        BNFOLD_ARG_CHECK(!data.is_none() || labels.is_none(), ErrorCode::InvalidArgument,
                         "labels go with data (they give both models' accuracy on it)");
        std::shared_ptr<Graph> f = load_onnx(original);
        std::shared_ptr<Graph> c = candidate.empty() ? f : load_onnx(candidate);
        PrecisionCheckOptions o;
        o.samples = samples;
        o.batch = batch;
        o.max_accuracy_drop = max_accuracy_drop;
        o.max_relative_error = max_relative_error;
        o.float64_reference = float64_reference;
        o.seed = seed;
        o.threads = threads;
        std::optional<Dataset> d;
        if (!data.is_none()) {
          d = dataset_of(*f, original, data, BNFOLD_DATA_VALUES);
          o.data = &*d;
        }
        const Precision p = parse_precision(precision);
        std::string json;
        {
          py::gil_scoped_release release;
          json = precision_json(check_precision(f, c, p, o));
        }
        return as_dict(json);
      },
      py::arg("original"), py::arg("candidate") = "", py::arg("precision") = "fp32", py::arg("data") = py::none(),
      py::arg("samples") = 256, py::arg("batch") = 8, py::arg("max_accuracy_drop") = 0.01,
      py::arg("max_relative_error") = -1.0, py::arg("float64_reference") = true, py::arg("seed") = 0,
      py::arg("threads") = 0, BNFOLD_DATA_ARGS,
      doc("Does a model in reduced precision keep what the float32 model at `original` does? `candidate`\n"
          "(an int8 QDQ model, or '' for `original` itself) runs in `precision` ('bf16' or 'fp32') against\n"
          "`original` in float32 on up to `samples` samples of `data` (without data: random data-like\n"
          "inputs), and its first batch also against float64 (`bnfold verify --precision`). With labels the\n"
          "verdict is the accuracy lost (at most max_accuracy_drop, a share: 0.01 is one point); without,\n"
          "each output's relative RMS error (max_relative_error; < 0: 0.02 for bf16, 0.05 for int8).\n"
          "Returns the keys of `bnfold verify --json` in precision mode: ok, precision, judged_by,\n"
          "outputs (relative_rms, relative_rms_float64, float32_rms_float64, top1_agreement), accuracy.")
          .c_str());
}

void bind_analysis(py::module_& m) {
  bind_check_precision(m);
  bind_shift_study(m);
  bind_quantize(m);
  bind_collect_stats(m);
  bind_drift(m);
  bind_recalibrate(m);
  bind_audit(m);
}

}  // namespace bnfold::python
