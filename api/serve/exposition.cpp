// GET /metrics: the Prometheus text format, named by Prometheus' conventions
// (bnfold_ prefix, base units, _total for counters). Per-BN-site gauges are
// labelled by model and bn only (no per-channel labels: the series a scrape
// makes stay a few per BN).
#include <fmt/format.h>

#include <chrono>

#include "api/serve/server_impl.hpp"
#include "bnfold/graph/error.hpp"
#include "bnfold/version.hpp"

namespace bnfold {

namespace {

using serve::Exposition;
using serve::Labels;

const DriftVerdict kVerdicts[] = {DriftVerdict::InDistribution, DriftVerdict::Drifted, DriftVerdict::TooFewSamples};
const DriftWindow kWindows[] = {DriftWindow::SinceStart, DriftWindow::Sliding};

struct Judged {
  std::string model;
  DriftWindow window;
  bool measured = false;  // false: nothing monitored in this window yet
  DriftReport report;
};

}  // namespace

std::string Server::Impl::metrics() const {
  Exposition e;
  e.family("bnfold_build_info", "gauge", "bnfold's version, as a label; always 1");
  e.sample("bnfold_build_info", {{"version", BNFOLD_VERSION_STRING}}, 1);
  e.family("bnfold_start_time_seconds", "gauge", "When the server started, in seconds since the Unix epoch");
  e.sample("bnfold_start_time_seconds", {},
           std::chrono::duration<double>(started.time_since_epoch()).count());
  e.family("bnfold_ready", "gauge", "1 while the server takes requests, 0 while it stops");
  e.sample("bnfold_ready", {}, ready ? 1 : 0);

  std::vector<std::pair<const serve::ModelService*, serve::ModelService::Counters>> counted;
  for (const auto& m : services) counted.emplace_back(m.get(), m->counters());
  auto per_model = [&](const std::string& name, const std::string& type, const std::string& help, auto value) {
    e.family(name, type, help);
    for (const auto& [m, c] : counted) e.sample(name, {{"model", m->name()}}, static_cast<double>(value(c)));
  };
  using C = serve::ModelService::Counters;
  per_model("bnfold_requests_total", "counter", "Inference requests answered, by model",
            [](const C& c) { return c.requests; });
  e.family("bnfold_request_failures_total", "counter",
           "Inference requests answered with an error, by model and HTTP status code");
  for (const auto& [m, c] : counted)
    for (const auto& [code, n] : c.failures)
      e.sample("bnfold_request_failures_total", {{"model", m->name()}, {"code", std::to_string(code)}},
               static_cast<double>(n));
  e.family("bnfold_unknown_model_requests_total", "counter", "Inference requests for a model not served here");
  e.sample("bnfold_unknown_model_requests_total", {}, static_cast<double>(unknown_model_requests.load()));
  per_model("bnfold_samples_total", "counter", "Samples (batch items) inferred, by model",
            [](const C& c) { return c.samples; });
  per_model("bnfold_runs_total", "counter", "Model runs; dynamic batching makes one run of several requests",
            [](const C& c) { return c.runs; });
  per_model("bnfold_monitored_samples_total", "counter", "Samples whose BN input statistics monitoring measured",
            [](const C& c) { return c.monitored_samples; });
  per_model("bnfold_queue_depth", "gauge", "Requests waiting for a run, by model", [](const C& c) { return c.queued; });
  per_model("bnfold_snapshots_total", "counter", "Statistics snapshots taken, by model",
            [](const C& c) { return c.snapshots; });
  e.family("bnfold_request_duration_seconds", "histogram",
           "Time from a request's arrival to its answer (parsing, queueing, the run, the reply), by model");
  for (const auto& [m, c] : counted) e.histogram("bnfold_request_duration_seconds", {{"model", m->name()}}, m->latency.counts());
  e.family("bnfold_batch_size", "histogram", "Samples per model run (dynamic batching), by model");
  for (const auto& [m, c] : counted) e.histogram("bnfold_batch_size", {{"model", m->name()}}, m->batch_size.counts());

  // Drift, since start and over the sliding window.
  std::vector<Judged> judged;
  for (const auto& m : services)
    for (DriftWindow w : kWindows) {
      Judged j{m->name(), w, false, {}};
      try {
        j.report = m->drift(w).report;
        j.measured = true;
      } catch (const Error&) {  // nothing monitored in this window yet
        j.report.verdict = DriftVerdict::TooFewSamples;
      }
      judged.push_back(std::move(j));
    }
  auto base = [](const Judged& j) { return Labels{{"model", j.model}, {"window", to_string(j.window)}}; };
  e.family("bnfold_drift_verdict", "gauge",
           "The drift verdict as a state set: 1 for the current verdict, 0 for the others; by model and window "
           "(since_start, sliding)");
  for (const Judged& j : judged)
    for (DriftVerdict v : kVerdicts) {
      Labels l = base(j);
      l.emplace_back("verdict", to_string(v));
      e.sample("bnfold_drift_verdict", l, j.report.verdict == v ? 1 : 0);
    }
  e.family("bnfold_drift_samples", "gauge", "Monitored samples the verdict is made of, by model and window");
  for (const Judged& j : judged) e.sample("bnfold_drift_samples", base(j), static_cast<double>(j.report.samples));
  e.family("bnfold_drift_drifted_layers", "gauge", "BN sites judged drifted, by model and window");
  for (const Judged& j : judged) {
    int n = 0;
    for (const LayerDrift& l : j.report.layers) n += l.drifted;
    e.sample("bnfold_drift_drifted_layers", base(j), n);
  }
  auto per_bn = [&](const std::string& name, const std::string& help, double LayerDrift::*field) {
    e.family(name, "gauge", help);
    for (const Judged& j : judged)
      for (const LayerDrift& l : j.report.layers) {
        Labels lb = base(j);
        lb.emplace_back("bn", l.bn);
        e.sample(name, lb, l.*field);
      }
  };
  per_bn("bnfold_drift_distance",
         "Per BN site: mean over channels of the symmetric KL divergence between the data's and the reference's "
         "Gaussians (reference: the baseline, or the model's running statistics)",
         &LayerDrift::distance);
  per_bn("bnfold_drift_ratio", "Per BN site: the drift distance in units of what sampling alone gives; drifted above "
                               "the threshold",
         &LayerDrift::ratio);
  e.family("bnfold_drift_threshold_ratio", "gauge", "The ratio above which a BN site is judged drifted");
  e.sample("bnfold_drift_threshold_ratio", {}, options.drift.threshold);
  return e.text();
}

}  // namespace bnfold
