// The shift study's passes (see shift_study.hpp): one clean pass for the
// reference statistics and predictions, then per cell the recalibrated
// variants from its first k samples and one streamed pass that corrupts each
// sample once and runs it through the model (with the statistics hook) and
// through every variant.
#include "bnfold/analysis/shift_study.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "analysis/evaluate.hpp"
#include "analysis/shift_study_parts.hpp"
#include "analysis/utc_time.hpp"
#include "bnfold/analysis/corruptions.hpp"
#include "bnfold/graph/shape.hpp"
#include "graph/check.hpp"

namespace bnfold {

namespace {

Tensor rows(const Tensor& t, int64_t start, int64_t n) {
  std::vector<int64_t> dims = t.dims();
  dims[0] = n;
  Tensor out(t.dtype(), dims);
  const size_t row = t.nbytes() / static_cast<size_t>(t.dims()[0]);
  std::memcpy(out.mutable_data(), static_cast<const char*>(t.data()) + static_cast<size_t>(start) * row,
              static_cast<size_t>(n) * row);
  return out;
}

// x = (p - mean) / std per channel, and back.
void to_pixels(Tensor& x, const std::vector<double>& mean, const std::vector<double>& sd) {
  const auto& d = x.dims();
  float* p = x.mutable_data_as<float>();
  const int64_t plane = d[2] * d[3];
  for (int64_t i = 0; i < d[0] * d[1]; ++i) {
    const size_t c = static_cast<size_t>(i % d[1]);
    for (int64_t j = 0; j < plane; ++j) p[i * plane + j] = static_cast<float>(p[i * plane + j] * sd[c] + mean[c]);
  }
}
void to_input(Tensor& x, const std::vector<double>& mean, const std::vector<double>& sd) {
  const auto& d = x.dims();
  float* p = x.mutable_data_as<float>();
  const int64_t plane = d[2] * d[3];
  for (int64_t i = 0; i < d[0] * d[1]; ++i) {
    const size_t c = static_cast<size_t>(i % d[1]);
    for (int64_t j = 0; j < plane; ++j) p[i * plane + j] = static_cast<float>((p[i * plane + j] - mean[c]) / sd[c]);
  }
}

// The pixel space: from mean/std, from a pixel range, or the data's range.
void choose_pixel_space(const Dataset& data, const ShiftStudyOptions& o, ShiftStudyReport& r) {
  const int64_t channels = data.sample_dims()[0];
  auto per_channel = [&](const std::vector<float>& v, float fallback, const char* what) {
    std::vector<double> out(static_cast<size_t>(channels), fallback);
    if (v.empty()) return out;
    BNFOLD_CHECK(v.size() == 1 || static_cast<int64_t>(v.size()) == channels, ErrorCode::InvalidArgument,
                 "{} has {} values; the images have {} channels (give 1 or {})", what, v.size(), channels, channels);
    for (size_t c = 0; c < out.size(); ++c) out[c] = v[v.size() == 1 ? 0 : c];
    return out;
  };
  if (!o.mean.empty() || !o.std.empty()) {
    r.pixel_mean = per_channel(o.mean, 0.f, "mean");
    r.pixel_std = per_channel(o.std, 1.f, "std");
    r.pixel_space = "the given mean and std: x = (p - mean) / std for pixels p in [0, 1]";
    return;
  }
  if (o.pixel_range.empty() && !data.image_mean.empty()) {
    // As the image reader applies them (analysis/images.cpp): channel c takes value c mod count.
    for (int64_t c = 0; c < channels; ++c) {
      r.pixel_mean.push_back(data.image_mean[static_cast<size_t>(c) % data.image_mean.size()]);
      r.pixel_std.push_back(data.image_std[static_cast<size_t>(c) % data.image_std.size()]);
    }
    r.pixel_space = "images: pixels in [0, 1], normalized with the data options' mean and std";
    return;
  }
  double lo = 0, hi = 0;
  if (!o.pixel_range.empty()) {
    lo = o.pixel_range[0];
    hi = o.pixel_range[1];
    r.pixel_space = fmt::format("the given pixel range: values {:g} to {:g} are pixels 0 to 1", lo, hi);
  } else {
    const Tensor head = data.batch(0, std::min<int64_t>(256, data.size()));
    const float* p = head.data_as<float>();
    const auto [mn, mx] = std::minmax_element(p, p + head.numel());
    lo = *mn;
    hi = *mx;
    BNFOLD_CHECK(hi > lo, ErrorCode::InvalidArgument,
                 "the data's first samples are constant ({:g}): give the pixel range or mean and std", lo);
    r.pixel_space = fmt::format(
        "estimated: the clean data's range {:.4g} to {:.4g} (first {} samples) taken as pixels 0 to 1; give "
        "--pixel-range or --mean/--std when the data are not images in that range",
        lo, hi, std::min<int64_t>(256, data.size()));
  }
  r.pixel_mean.assign(static_cast<size_t>(channels), -lo / (hi - lo));
  r.pixel_std.assign(static_cast<size_t>(channels), 1 / (hi - lo));
}

// Scores a batch of class scores: correct answers and summed confidence.
struct Tally {
  int64_t correct = 0, n = 0;
  double confidence = 0;
  double share() const { return n ? static_cast<double>(correct) / static_cast<double>(n) : -1; }
};
void score(const Tensor& logits, const std::vector<int64_t>& truth, int64_t start, Tally& t, bool with_confidence,
           std::vector<int64_t>* predictions = nullptr) {
  const int64_t n = logits.dims()[0], classes = logits.dims()[1];
  const float* p = logits.data_as<float>();
  for (int64_t i = 0; i < n; ++i) {
    const float* row = p + i * classes;
    const int64_t best = std::max_element(row, row + classes) - row;
    if (predictions) predictions->push_back(best);
    if (!truth.empty() && truth[static_cast<size_t>(start + i)] == best) ++t.correct;
    if (with_confidence) {
      double sum = 0;
      for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(row[c] - row[best]));
      t.confidence += 1 / sum;
    }
  }
  t.n += n;
}

struct Study {
  const AnalysisModel& model;
  const Dataset& data;
  const ShiftStudyOptions& o;
  ShiftStudyReport& r;
  std::string input, scores;
  std::vector<int64_t> truth;  // labels, or the clean predictions
  BnInputStats reference;
  int64_t done = 0, total = 0;

  SessionOptions session_options() const {
    SessionOptions so;
    so.threads = o.threads;
    return so;
  }

  Tensor shifted(int64_t start, int64_t n, const std::string& family, int severity) const {
    Tensor t = data.batch(start, n);
    if (family.empty()) return t;
    to_pixels(t, r.pixel_mean, r.pixel_std);
    corrupt(t, family, severity, o.seed, start);
    to_input(t, r.pixel_mean, r.pixel_std);
    return t;
  }

  // Where a pass pauses to judge drift: 8, 16, 32, ... and the end.
  static int64_t next_stop(int64_t at, int64_t batch, int64_t end) {
    int64_t checkpoint = 8;
    while (checkpoint <= at) checkpoint *= 2;
    return std::min({at + batch, checkpoint, end});
  }

  DriftOptions drift_options() const {
    DriftOptions d = o.drift;
    if (!d.baseline) d.baseline = &reference;
    return d;
  }

  // Runs one cell (family "" : the clean data).
  ShiftCell run(const std::string& family, int severity) {
    ShiftCell cell;
    cell.family = family.empty() ? "clean" : family;
    cell.severity = severity;
    const bool clean = family.empty();
    const int64_t n = data.size();
    int64_t head_n = 0;
    for (const auto& v : r.variants) head_n = std::max(head_n, v.k);
    const Tensor head = clean || head_n == 0 ? Tensor() : shifted(0, head_n, family, severity);
    std::vector<std::unique_ptr<Session>> variants;
    std::vector<Tally> variant_tallies;
    if (!clean)
      for (const auto& v : r.variants) {
        std::shared_ptr<Graph> g = model.copy();
        const RecalibrationReport rr = recalibrate(*g, Dataset::from_tensor(rows(head, 0, v.k)),
                                                   RecalibrationMode::Sequential, o.batch, o.threads, {}, false,
                                                   v.prior);
        r.forward_samples += rr.passes * v.k;
        variants.push_back(std::make_unique<Session>(g, session_options()));
        variant_tallies.emplace_back();
        cell.recalibrated.push_back(v);
      }
    Session base(model.shared(), session_options());
    BnInputStats stats;
    const BnStatsHook hook = [&](const BnStats& s) { stats.add(s.bn, s.count, s.mean, s.var); };
    Tally tally;
    std::vector<int64_t> predictions;
    const bool judge = !clean || o.drift.baseline;
    for (int64_t at = 0; at < n;) {
      const int64_t end = next_stop(at, o.batch, n), m = end - at;
      // The first head_n samples were corrupted once, for the recalibrations.
      const Tensor x = !clean && end <= head_n ? rows(head, at, m) : shifted(at, m, family, severity);
      const auto out = base.run({{input, x}}, hook);
      stats.samples += m;
      score(out.at(scores), truth, at, tally, true, clean ? &predictions : nullptr);
      for (size_t v = 0; v < variants.size(); ++v)
        score(variants[v]->run({{input, x}}).at(scores), truth, at, variant_tallies[v], false);
      r.forward_samples += m * static_cast<int64_t>(1 + variants.size());
      at = end;
      done += m;
      if (judge && (at & (at - 1)) == 0 && at >= 8 && cell.samples_to_drift < 0 &&
          compute_drift(model.graph(), stats, drift_options()).verdict == DriftVerdict::Drifted)
        cell.samples_to_drift = at;
      if (o.progress) o.progress(done, total);
    }
    if (clean) {
      reference = stats;
      reference.model = model.name();
      if (truth.empty()) truth = predictions;
    }
    cell.accuracy = clean && !data.has_labels() ? 1.0 : tally.share();
    cell.confidence = tally.confidence / static_cast<double>(tally.n);
    for (size_t v = 0; v < variants.size(); ++v) cell.recalibrated[v].accuracy = variant_tallies[v].share();
    if (judge) {
      const DriftReport d = compute_drift(model.graph(), stats, drift_options());
      cell.verdict = d.verdict;
      if (d.verdict == DriftVerdict::Drifted && cell.samples_to_drift < 0) cell.samples_to_drift = n;
      effective_distance(d, cell);
      r.threshold = d.threshold;
      r.min_effect = d.min_effect;
    }
    return cell;
  }
};

}  // namespace

void check_shift_study_options(const ShiftStudyOptions& o) {
  for (const auto& f : o.families) corruption_family(f);
  for (int s : o.severities)
    BNFOLD_CHECK(s >= 1 && s <= 5, ErrorCode::InvalidArgument, "severity {} is not one of 1-5", s);
  BNFOLD_CHECK(!o.severities.empty(), ErrorCode::InvalidArgument, "no severities to study");
  for (int64_t k : o.recalibration_samples)
    BNFOLD_CHECK(k >= 1, ErrorCode::InvalidArgument, "recalibration on {} samples: k must be at least 1", k);
  check_recalibration_prior(o.prior);
  BNFOLD_CHECK(o.max_drop > 0 && o.max_drop < 1, ErrorCode::InvalidArgument,
               "the accuracy drop drift must warn of is a share in (0, 1), e.g. 0.05 for 5 points; got {:g}",
               o.max_drop);
  BNFOLD_CHECK(o.pixel_range.empty() || (o.pixel_range.size() == 2 && std::isfinite(o.pixel_range[0]) &&
                                         std::isfinite(o.pixel_range[1]) && o.pixel_range[1] > o.pixel_range[0]),
               ErrorCode::InvalidArgument, "a pixel range is two finite numbers LO,HI with HI > LO");
  BNFOLD_CHECK(o.pixel_range.empty() || (o.mean.empty() && o.std.empty()), ErrorCode::InvalidArgument,
               "give either a pixel range (arrays) or mean and std (images), not both");
  for (float v : o.std)
    BNFOLD_CHECK(v != 0 && std::isfinite(v), ErrorCode::InvalidArgument, "a std of {:g}: it divides", v);
  for (float v : o.mean) BNFOLD_CHECK(std::isfinite(v), ErrorCode::InvalidArgument, "a mean of {:g}", v);
  check_drift_options(o.drift);
  check_batch_size(o.batch);
}

ShiftStudyReport shift_study(const AnalysisModel& model, const Dataset& data, const ShiftStudyOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  check_shift_study_options(o);
  const auto& dims = data.sample_dims();
  BNFOLD_CHECK(dims.size() == 3 && data.dtype() == DType::Float32, ErrorCode::InvalidArgument,
               "the shift study corrupts images: samples [C, H, W] of float32; these are {} of {}",
               Shape::of(dims).str(), dtype_name(data.dtype()));
  BNFOLD_CHECK(data.size() > 0, ErrorCode::InvalidArgument, "no samples to study");
  ShiftStudyReport r;
  r.model = model.name();
  r.model_sha256 = model.sha256();
  r.data = data.description;
  r.samples = data.size();
  r.seed = o.seed;
  r.max_drop = o.max_drop;
  r.min_samples = o.drift.min_samples;
  r.metric = data.has_labels() ? "accuracy" : "agreement";
  r.reference = o.drift.baseline ? "baseline" : "the clean data's statistics";
  choose_pixel_space(data, o, r);
  Study s{model, data, o, r, {}, {}, {}, {}, 0, 0};
  {
    Session probe(model.shared(), s.session_options());
    BNFOLD_CHECK(probe.inputs().size() == 1, ErrorCode::Unsupported, "the study needs a model with one input");
    s.input = probe.inputs()[0].name;
    std::vector<OutputSpec> specs;
    for (const auto& [k, t] : probe.run({{s.input, data.batch(0, 1)}})) specs.push_back({k, t.dtype(), t.dims()});
    const int at = class_output(specs);
    BNFOLD_CHECK(at >= 0, ErrorCode::InvalidArgument,
                 "the study measures accuracy, so it needs a classifier: no output of {} is class scores [N, classes]",
                 model.name());
    s.scores = specs[static_cast<size_t>(at)].name;
    r.classes = specs[static_cast<size_t>(at)].dims[1];
  }
  if (data.has_labels()) {
    check_labels_fit(data.labels(), r.classes, s.scores);
    s.truth = data.labels();
  }
  plan_cells(o, data, r);
  s.total = r.samples * static_cast<int64_t>(1 + r.cells.size());
  r.clean = s.run("", 0);
  for (ShiftCell& c : r.cells) c = s.run(c.family, c.severity);
  summarize_shift_study(r);
  r.time = utc_now();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}

}  // namespace bnfold
