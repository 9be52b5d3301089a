// The C API's BN tools: fold reports, statistics (collected, monitored,
// merged, saved), drift, recalibration, the audit and the shift study; the same library calls
// and JSON reports as the CLI and the Python module.
#include "bnfold/bnfold.h"

#include "bnfold/analysis/bn_analysis.hpp"
#include "bnfold/analysis/precision_check.hpp"
#include "bnfold/analysis/quantize.hpp"
#include "bnfold/analysis/shift_study.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "api/c_internal.hpp"
#include "bnfold/analysis/verify_fold.hpp"
#include "bnfold/graph/onnx_io.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>

using namespace bnfold::c_api;

namespace {

// The model as the analyses read it: a prepared copy (the handle's graph may
// change later: fold and recalibrate replace it).
bnfold::AnalysisModel for_analysis(const bnfold_model& m) {
  return bnfold::AnalysisModel(std::shared_ptr<const bnfold::Graph>(bnfold::clone_graph(*m.graph)), "the model");
}

std::vector<std::string> paths_of(const char* const* paths, size_t count) {
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) {
    if (!paths[i]) throw bnfold::Error(bnfold::ErrorCode::InvalidArgument, "path " + std::to_string(i) + " is NULL");
    out.emplace_back(paths[i]);
  }
  if (out.empty()) throw bnfold::Error(bnfold::ErrorCode::InvalidArgument, "no data paths given");
  return out;
}

bnfold::Dataset open_files(const bnfold::Graph& g, const std::vector<std::string>& paths) {
  return bnfold::Dataset::open(paths, bnfold::data_options_for(g, "the model"));
}

// The C caller's options_json: a JSON object whose keys are all `known`.
nlohmann::json options_object(const char* text, const std::vector<std::string>& known) {
  using nlohmann::json;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception&) {
    throw bnfold::Error(bnfold::ErrorCode::InvalidArgument, "options_json is not JSON");
  }
  if (!j.is_object())
    throw bnfold::Error(bnfold::ErrorCode::InvalidArgument, "options_json must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw bnfold::Error(bnfold::ErrorCode::InvalidArgument,
                        "options_json: unknown key '" + key + "' (known: " + list + ")");
  }
  return j;
}

// The shift study's options from the C caller's JSON object (NULL: defaults).
bnfold::ShiftStudyOptions study_options(const char* text, int64_t& limit) {
  bnfold::ShiftStudyOptions o;
  if (!text) return o;
  using nlohmann::json;
  const json j = options_object(text, {"families", "severities", "recalibrate_on", "prior", "seed", "pixel_range",
                                       "max_drop", "threshold", "min_effect", "batch", "limit"});
  try {
    if (j.contains("families")) o.families = j["families"].get<std::vector<std::string>>();
    if (j.contains("severities")) o.severities = j["severities"].get<std::vector<int>>();
    if (j.contains("recalibrate_on")) o.recalibration_samples = j["recalibrate_on"].get<std::vector<int64_t>>();
    if (j.contains("prior")) o.prior = j["prior"].get<double>();
    if (j.contains("seed")) o.seed = j["seed"].get<uint64_t>();
    if (j.contains("pixel_range")) o.pixel_range = j["pixel_range"].get<std::vector<double>>();
    if (j.contains("max_drop")) o.max_drop = j["max_drop"].get<double>();
    if (j.contains("threshold")) o.drift.threshold = j["threshold"].get<double>();
    if (j.contains("min_effect")) o.drift.min_effect = j["min_effect"].get<double>();
    if (j.contains("batch")) o.batch = j["batch"].get<int64_t>();
    if (j.contains("limit")) limit = j["limit"].get<int64_t>();
  } catch (const json::exception& e) {
    throw bnfold::Error(bnfold::ErrorCode::InvalidArgument, std::string("options_json: a value of the wrong type: ") + e.what());
  }
  return o;
}

void give(char** out, const std::string& json) {
  if (out) *out = give_string(json);
}

}  // namespace

extern "C" {

void bnfold_string_free(char* text) { std::free(text); }

bnfold_status bnfold_model_inspect(const bnfold_model* model, char** report_json) {
  if (!model || !report_json) return null_argument(!model ? "model" : "report_json");
  *report_json = nullptr;
  return guarded([&] { *report_json = give_string(bnfold::inspect_json(*model->graph, "model")); });
}

bnfold_status bnfold_verify(const bnfold_model* original, const bnfold_model* folded, int* ok, char** report_json) {
  if (!original || !folded) return null_argument(!original ? "original" : "folded");
  if (report_json) *report_json = nullptr;
  return guarded([&] {
    const bnfold::VerifyResult r = bnfold::verify_fold(*original->graph, *folded->graph, nullptr, {});
    if (ok) *ok = r.ok ? 1 : 0;
    give(report_json, bnfold::verify_json(r));
  });
}

bnfold_status bnfold_session_profile(bnfold_session* s, const bnfold_input* inputs, size_t count, int iterations,
                                     char** report_json) {
  if (!s || !report_json || (count && !inputs))
    return null_argument(!s ? "session" : !report_json ? "report_json" : "inputs");
  *report_json = nullptr;
  return guarded([&] {
    const auto steps = s->session->profile(borrow_inputs(inputs, count), iterations);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& st : steps)
      list.push_back({{"step", st.what}, {"node", st.node}, {"implementation", st.implementation}, {"ms", st.ms},
                      {"flops", st.flops}});
    *report_json = give_string(list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  });
}

bnfold_status bnfold_model_fold_report(bnfold_model* model, char** report_json) {
  if (!model || !report_json) return null_argument(!model ? "model" : "report_json");
  *report_json = nullptr;
  return guarded([&] {
    bnfold::FoldResult r = bnfold::fold_model(*model->graph);
    *report_json = give_string(bnfold::fold_json(r));
    model->graph = bnfold::clone_graph(*r.model);
  });
}

bnfold_status bnfold_session_snapshot(const bnfold_session* s, bnfold_stats** out) {
  if (!s || !out) return null_argument(!s ? "session" : "out");
  *out = nullptr;
  return guarded([&] {
    const bnfold::MonitorSnapshot m = s->session->monitor();
    if (m.sampled_runs == 0)
      throw bnfold::Error(bnfold::ErrorCode::InvalidArgument,
                          "no run was monitored yet (create the session with monitor_every = K: every K-th run is)");
    *out = new bnfold_stats{bnfold::stats_from_monitor(m)};
  });
}

bnfold_status bnfold_session_monitor_counts(const bnfold_session* s, int64_t* runs, int64_t* sampled_runs) {
  if (!s) return null_argument("session");
  return guarded([&] {
    const bnfold::MonitorSnapshot m = s->session->monitor();
    if (runs) *runs = m.runs;
    if (sampled_runs) *sampled_runs = m.sampled_runs;
  });
}

bnfold_status bnfold_session_reset_monitor(bnfold_session* s) {
  if (!s) return null_argument("session");
  return guarded([&] { s->session->reset_monitor(); });
}

bnfold_status bnfold_stats_collect_files(const bnfold_model* model, const char* const* paths, size_t count,
                                         int64_t batch, int threads, bnfold_stats** out) {
  if (!model || !out || (count && !paths)) return null_argument(!model ? "model" : !out ? "out" : "paths");
  *out = nullptr;
  return guarded([&] {
    const bnfold::AnalysisModel m = for_analysis(*model);
    const bnfold::Dataset d = open_files(m.graph(), paths_of(paths, count));
    *out = new bnfold_stats{bnfold::collect_bn_input_stats(m.shared(), d, batch == 0 ? 32 : batch, threads)};
  });
}

bnfold_status bnfold_stats_collector_create(const bnfold_model* model, int threads, bnfold_stats_collector** out) {
  if (!model || !out) return null_argument(!model ? "model" : "out");
  *out = nullptr;
  return guarded([&] {
    *out = new bnfold_stats_collector{std::make_unique<bnfold::BnStatsCollector>(for_analysis(*model).shared(), threads)};
  });
}

bnfold_status bnfold_stats_collector_add(bnfold_stats_collector* c, const float* data, const int64_t* dims,
                                         size_t rank) {
  if (!c || !data || !dims) return null_argument(!c ? "collector" : !data ? "data" : "dims");
  return guarded([&] {
    std::vector<int64_t> d(dims, dims + rank);
    c->collector->add(bnfold::Tensor::borrow(bnfold::DType::Float32, d, const_cast<float*>(data)));
  });
}

bnfold_status bnfold_stats_collector_result(const bnfold_stats_collector* c, bnfold_stats** out) {
  if (!c || !out) return null_argument(!c ? "collector" : "out");
  *out = nullptr;
  return guarded([&] { *out = new bnfold_stats{c->collector->stats()}; });
}

void bnfold_stats_collector_free(bnfold_stats_collector* c) { delete c; }

bnfold_status bnfold_stats_load(const char* path, bnfold_stats** out) {
  if (!path || !out) return null_argument(!path ? "path" : "out");
  *out = nullptr;
  return guarded([&] { *out = new bnfold_stats{bnfold::BnInputStats::load(path)}; });
}

bnfold_status bnfold_stats_save(const bnfold_stats* s, const char* path) {
  if (!s || !path) return null_argument(!s ? "stats" : "path");
  return guarded([&] { s->stats.save(path); });
}

bnfold_status bnfold_stats_merge(bnfold_stats* into, const bnfold_stats* other) {
  if (!into || !other) return null_argument(!into ? "into" : "other");
  return guarded([&] { into->stats.merge(other->stats); });
}

int64_t bnfold_stats_samples(const bnfold_stats* s) { return s ? s->stats.samples : 0; }
void bnfold_stats_free(bnfold_stats* s) { delete s; }

bnfold_status bnfold_drift(const bnfold_model* model, const bnfold_stats* stats, const bnfold_stats* baseline,
                           bnfold_verdict* verdict, char** report_json) {
  if (!model || !stats) return null_argument(!model ? "model" : "stats");
  if (report_json) *report_json = nullptr;
  return guarded([&] {
    bnfold::DriftRequest q;
    q.statistics = {stats->stats};
    q.options.baseline = baseline ? &baseline->stats : nullptr;
    const bnfold::DriftReport r = bnfold::drift_model(for_analysis(*model), q).report;
    if (verdict)
      *verdict = r.verdict == bnfold::DriftVerdict::Drifted         ? BNFOLD_DRIFTED
                 : r.verdict == bnfold::DriftVerdict::TooFewSamples ? BNFOLD_TOO_FEW_SAMPLES
                                                                    : BNFOLD_IN_DISTRIBUTION;
    give(report_json, bnfold::drift_json(r));
  });
}

bnfold_status bnfold_model_recalibrate(bnfold_model* model, const bnfold_stats* stats, int unbiased_var,
                                       char** report_json) {
  return bnfold_model_recalibrate_prior(model, stats, 0, unbiased_var, report_json);
}

bnfold_status bnfold_model_recalibrate_prior(bnfold_model* model, const bnfold_stats* stats, double prior,
                                             int unbiased_var, char** report_json) {
  if (!model || !stats) return null_argument(!model ? "model" : "stats");
  if (report_json) *report_json = nullptr;
  return guarded([&] {
    bnfold::RecalibrateOptions o;
    o.unbiased_var = unbiased_var != 0;
    o.prior = prior;
    const bnfold::RecalibrateResult r = bnfold::recalibrate_model(for_analysis(*model), stats->stats, o);
    model->graph = bnfold::clone_graph(*r.model);
    give(report_json, bnfold::recalibrate_json(r));
  });
}

bnfold_status bnfold_model_recalibrate_files(bnfold_model* model, const char* const* paths, size_t count,
                                             int update_bn, int threads, char** report_json) {
  if (!model || (count && !paths)) return null_argument(!model ? "model" : "paths");
  if (report_json) *report_json = nullptr;
  return guarded([&] {
    bnfold::RecalibrateOptions o;
    o.mode = update_bn ? bnfold::RecalibrationMode::UpdateBn : bnfold::RecalibrationMode::Sequential;
    o.threads = threads;
    const bnfold::AnalysisModel m = for_analysis(*model);
    const bnfold::Dataset d = open_files(m.graph(), paths_of(paths, count));
    const bnfold::RecalibrateResult r = bnfold::recalibrate_model(m, d, o);
    model->graph = bnfold::clone_graph(*r.model);
    give(report_json, bnfold::recalibrate_json(r));
  });
}

bnfold_status bnfold_audit_files(const bnfold_model* model, const char* const* paths, size_t count, int threads,
                                 char** report_json) {
  if (!model || !report_json || (count && !paths))
    return null_argument(!model ? "model" : !report_json ? "report_json" : "paths");
  *report_json = nullptr;
  return guarded([&] {
    const bnfold::AnalysisModel m = for_analysis(*model);
    const bnfold::Dataset d = open_files(m.graph(), paths_of(paths, count));
    bnfold::AuditOptions o;
    o.threads = threads;
    *report_json = give_string(bnfold::audit_json(bnfold::audit(m, d, o)));
  });
}

bnfold_status bnfold_shift_study_files(const bnfold_model* model, const char* const* paths, size_t count,
                                       const char* labels, const char* options_json, int threads,
                                       char** report_json) {
  if (!model || !report_json || (count && !paths))
    return null_argument(!model ? "model" : !report_json ? "report_json" : "paths");
  *report_json = nullptr;
  return guarded([&] {
    int64_t limit = 0;
    bnfold::ShiftStudyOptions o = study_options(options_json, limit);
    o.threads = threads;
    bnfold::check_shift_study_options(o);
    if (limit < 0) throw bnfold::Error(bnfold::ErrorCode::InvalidArgument, "options_json: limit must be >= 0");
    const bnfold::AnalysisModel m = for_analysis(*model);
    bnfold::DataOptions d = bnfold::data_options_for(m.graph(), "the model");
    if (labels) d.labels = labels;
    d.limit = limit;
    const bnfold::Dataset data = bnfold::Dataset::open(paths_of(paths, count), d);
    *report_json = give_string(bnfold::shift_study_json(bnfold::shift_study(m, data, o)));
  });
}

bnfold_status bnfold_quantize_files(const bnfold_model* model, const char* const* paths, size_t count,
                                    const char* labels, const char* options_json, const char* out_path, int threads,
                                    char** report_json) {
  if (!model || !out_path || !report_json || (count && !paths))
    return null_argument(!model ? "model" : !out_path ? "out_path" : !report_json ? "report_json" : "paths");
  *report_json = nullptr;
  return guarded([&] {
    bnfold::QuantizeOptions o;
    o.threads = threads;
    int64_t check_samples = 1024;
    if (options_json) {
      const auto j = options_object(options_json, {"input_range", "equalize", "bias_correction", "batch",
                                                   "check_samples"});
      try {
        if (j.contains("input_range")) o.input_range = j["input_range"].get<std::vector<double>>();
        if (j.contains("equalize")) o.equalize = j["equalize"].get<bool>();
        if (j.contains("bias_correction")) o.bias_correction = j["bias_correction"].get<bool>();
        if (j.contains("batch")) o.batch = j["batch"].get<int64_t>();
        if (j.contains("check_samples")) check_samples = j["check_samples"].get<int64_t>();
      } catch (const nlohmann::json::exception& e) {
        throw bnfold::Error(bnfold::ErrorCode::InvalidArgument,
                            std::string("options_json: a value of the wrong type: ") + e.what());
      }
    }
    if (count && !o.input_range.empty())
      throw bnfold::Error(bnfold::ErrorCode::InvalidArgument,
                          "input_range is for quantizing without data; with data the input's range is measured");
    if (!count && labels)
      throw bnfold::Error(bnfold::ErrorCode::InvalidArgument, "labels go with data paths");
    const bnfold::Graph& g = *model->graph;
    std::optional<bnfold::Dataset> data;
    if (count) {
      bnfold::DataOptions d = bnfold::data_options_for(g, "the model");
      if (labels) d.labels = labels;
      data = bnfold::Dataset::open(paths_of(paths, count), d);
      o.data = &*data;
    }
    const bnfold::QuantizeResult r = bnfold::quantize_model(g, o);
    bnfold::save_onnx(*r.model, out_path);
    std::optional<bnfold::QuantizeCheck> c;
    if (data) c = bnfold::check_quantized(r, *data, check_samples, o.batch, threads);
    *report_json = give_string(bnfold::quantize_json(r, c ? &*c : nullptr));
  });
}

bnfold_status bnfold_check_precision_files(const bnfold_model* model, const bnfold_model* candidate, int precision,
                                           const char* const* paths, size_t count, const char* labels,
                                           const char* options_json, int threads, char** report_json) {
  if (!model || !candidate || !report_json || (count && !paths))
    return null_argument(!model ? "model" : !candidate ? "candidate" : !report_json ? "report_json" : "paths");
  *report_json = nullptr;
  return guarded([&] {
    bnfold::PrecisionCheckOptions o;
    o.threads = threads;
    if (options_json) {
      const auto j = options_object(options_json, {"samples", "batch", "max_accuracy_drop", "max_relative_error",
                                                   "float64_reference", "seed"});
      try {
        if (j.contains("samples")) o.samples = j["samples"].get<int64_t>();
        if (j.contains("batch")) o.batch = j["batch"].get<int64_t>();
        if (j.contains("max_accuracy_drop")) o.max_accuracy_drop = j["max_accuracy_drop"].get<double>();
        if (j.contains("max_relative_error")) o.max_relative_error = j["max_relative_error"].get<double>();
        if (j.contains("float64_reference")) o.float64_reference = j["float64_reference"].get<bool>();
        if (j.contains("seed")) o.seed = j["seed"].get<uint64_t>();
      } catch (const nlohmann::json::exception& e) {
        throw bnfold::Error(bnfold::ErrorCode::InvalidArgument,
                            std::string("options_json: a value of the wrong type: ") + e.what());
      }
    }
    if (precision != BNFOLD_PRECISION_FP32 && precision != BNFOLD_PRECISION_BF16)
      throw bnfold::Error(bnfold::ErrorCode::InvalidArgument,
                          "precision " + std::to_string(precision) +
                              " is not a bnfold_precision (BNFOLD_PRECISION_FP32, BNFOLD_PRECISION_BF16)");
    if (!count && labels) throw bnfold::Error(bnfold::ErrorCode::InvalidArgument, "labels go with data paths");
    std::shared_ptr<const bnfold::Graph> f = bnfold::clone_graph(*model->graph);
    std::shared_ptr<const bnfold::Graph> c = candidate == model ? f : bnfold::clone_graph(*candidate->graph);
    std::optional<bnfold::Dataset> data;
    if (count) {
      bnfold::DataOptions d = bnfold::data_options_for(*f, "the model");
      if (labels) d.labels = labels;
      data = bnfold::Dataset::open(paths_of(paths, count), d);
      o.data = &*data;
    }
    const auto p = precision == BNFOLD_PRECISION_BF16 ? bnfold::Precision::BFloat16 : bnfold::Precision::Float32;
    *report_json = give_string(bnfold::precision_json(bnfold::check_precision(f, c, p, o)));
  });
}

}  // extern "C"
