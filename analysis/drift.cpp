// Drift of data from what the model learned, with a verdict (see DriftOptions).
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "bnfold/graph/batchnorm.hpp"
#include "graph/check.hpp"
#include "bnfold/graph/folded_bns.hpp"
#include "bnfold/analysis/bn_analysis.hpp"

namespace bnfold {

namespace {

// Per channel: the reference's mean and variance (eps included).
struct Reference {
  std::vector<double> mean, var;
};

// KL(p||q) + KL(q||p) for two Gaussians.
double symmetric_kl(double m1, double v1, double m2, double v2) {
  const double dm = m1 - m2;
  return (v1 + dm * dm) / (2 * v2) + (v2 + dm * dm) / (2 * v1) - 1.0;
}

struct Comparison {
  double distance = 0, shifted = 0, var_shifted = 0, mean_sigma = 0, var_ratio = 0;
};
Comparison compare(const std::vector<double>& mean, const std::vector<double>& var, const Reference& ref, double eps) {
  Comparison c;
  const size_t k = ref.mean.size();
  for (size_t i = 0; i < k; ++i) {
    const double v = var[i] + eps;
    c.distance += symmetric_kl(mean[i], v, ref.mean[i], ref.var[i]);
    const double z = std::fabs(mean[i] - ref.mean[i]) / std::sqrt(ref.var[i]);
    c.mean_sigma += z;
    c.shifted += z > 3.0 ? 1.0 : 0.0;
    const double ratio = v / ref.var[i];
    c.var_ratio += ratio;
    c.var_shifted += ratio < 0.5 || ratio > 2.0 ? 1.0 : 0.0;
  }
  const double n = static_cast<double>(std::max<size_t>(k, 1));
  c.distance /= n;
  c.shifted /= n;
  c.var_shifted /= n;
  c.mean_sigma /= n;
  c.var_ratio /= n;
  return c;
}

const ChannelMoments& moments_of(const BnInputStats& stats, const std::string& bn, int64_t channels,
                                 const char* what) {
  auto it = stats.per_bn.find(bn);
  BNFOLD_CHECK(it != stats.per_bn.end(), ErrorCode::InvalidArgument,
               "the {} statistics have nothing for BN '{}': they were collected for another model{}", what, bn,
               stats.model.empty() ? "" : " (" + stats.model + ")");
  BNFOLD_CHECK(static_cast<int64_t>(it->second.mean.size()) == channels, ErrorCode::InvalidArgument,
               "BN '{}': the {} statistics have {} channels, the model {} (statistics of another model?)", bn, what,
               it->second.mean.size(), channels);
  return it->second;
}

// Every BN of g with its running statistics (graph/batchnorm.hpp: BN nodes
// and those fold removed), in the order of `order` (the statistics' plan
// order) where they appear there. A measured BN without constant statistics
// cannot be compared.
std::vector<RunningStatistics> in_measured_order(const Graph& g, const std::vector<std::string>& order) {
  std::vector<std::string> not_constant;
  std::vector<RunningStatistics> all = running_statistics(g, &not_constant);
  for (const std::string& bn : not_constant)
    BNFOLD_CHECK(std::find(order.begin(), order.end(), bn) == order.end(), ErrorCode::Unsupported,
                 "BN '{}': its running statistics are not constant", bn);
  auto rank = [&](const std::string& bn) {
    return static_cast<size_t>(std::find(order.begin(), order.end(), bn) - order.begin());
  };
  std::stable_sort(all.begin(), all.end(), [&](const RunningStatistics& a, const RunningStatistics& b) {
    return rank(a.bn) < rank(b.bn);
  });
  return all;
}

// Statistics of another model are named as such: the first BN they have
// that the model lacks, and both BN signatures.
void check_fits(const std::vector<RunningStatistics>& bns, const BnInputStats& s, const char* what) {
  std::map<std::string, size_t> channels;
  for (const RunningStatistics& b : bns) channels[b.bn] = b.mean.size();
  for (const auto& [bn, m] : s.per_bn) {
    auto it = channels.find(bn);
    const size_t c = m.mean.size();
    if (it != channels.end() && it->second == c) continue;
    failf(ErrorCode::InvalidArgument,
          "the {} statistics{} were collected for another model: {} (their {} BNs have signature {}, this model's "
          "{} have {})",
          what, s.model.empty() ? "" : " (" + s.model + ")",
          it == channels.end() ? fmt::format("this model has no BN '{}'", bn)
                               : fmt::format("BN '{}' has {} channels here, {} there", bn, it->second, c),
          s.per_bn.size(), s.bn_signature(), channels.size(), bn_signature_of(channels));
  }
}

}  // namespace

// See DriftOptions::min_effect: what the shift study found on the bundled models.
constexpr double kDefaultMinEffect = 0.25;

void check_drift_options(const DriftOptions& o) {
  BNFOLD_CHECK(std::isfinite(o.threshold) && o.threshold > 0, ErrorCode::InvalidArgument,
               "drift threshold {} must be a finite number above 0", o.threshold);
  // Negative: the default for the reference (DriftOptions); NaN is no number at all.
  BNFOLD_CHECK(std::isfinite(o.min_effect), ErrorCode::InvalidArgument,
               "drift min_effect {} must be finite (negative: the default)", o.min_effect);
  BNFOLD_CHECK(o.min_samples >= 0, ErrorCode::InvalidArgument, "drift min_samples {} is negative", o.min_samples);
}

DriftReport compute_drift(const Graph& g, const BnInputStats& stats, const DriftOptions& o) {
  check_drift_options(o);
  DriftReport r;
  r.samples = stats.samples;
  r.reference = o.baseline ? "baseline" : "running statistics";
  r.baseline_samples = o.baseline ? o.baseline->samples : 0;
  r.threshold = o.threshold;
  r.min_effect = o.min_effect >= 0 ? o.min_effect : kDefaultMinEffect;
  r.min_samples = o.min_samples;
  BNFOLD_CHECK(!o.baseline || o.baseline->samples > 1, ErrorCode::InvalidArgument,
               "the baseline holds {} samples; make it from in-distribution data (drift --save-stats)",
               o.baseline ? o.baseline->samples : 0);
  const double n = static_cast<double>(std::max<int64_t>(stats.samples, 1));
  const double noise = 2.0 * (1.0 / n + (o.baseline ? 1.0 / static_cast<double>(o.baseline->samples) : 0.0));
  const std::vector<RunningStatistics> model_bns = in_measured_order(g, stats.order);
  check_fits(model_bns, stats, "data's");
  if (o.baseline) check_fits(model_bns, *o.baseline, "baseline");
  for (const RunningStatistics& bn : model_bns) {
    if (!stats.per_bn.count(bn.bn)) continue;
    const double eps = bn.epsilon;
    const auto channels = static_cast<int64_t>(bn.mean.size());
    const ChannelMoments& m = moments_of(stats, bn.bn, channels, "data's");
    Reference running{bn.mean, bn.var};
    for (double& v : running.var) v += eps;
    LayerDrift d;
    d.bn = bn.bn;
    d.channels = channels;
    const std::vector<double> var = m.variance();
    d.score = compare(m.mean, var, running, eps).distance;
    Comparison c;
    if (o.baseline) {
      const ChannelMoments& b = moments_of(*o.baseline, bn.bn, channels, "baseline");
      Reference base{b.mean, b.variance()};
      for (double& v : base.var) v += eps;
      d.baseline_score = compare(b.mean, b.variance(), running, eps).distance;
      c = compare(m.mean, var, base, eps);
    } else {
      c = compare(m.mean, var, running, eps);
    }
    d.distance = c.distance;
    d.noise = noise;
    d.ratio = c.distance / noise;
    d.drifted = d.ratio > r.threshold && d.distance > r.min_effect;
    d.shifted_share = c.shifted;
    d.var_shift_share = c.var_shifted;
    d.mean_shift_sigma = c.mean_sigma;
    d.var_ratio = c.var_ratio;
    r.max_score = std::max(r.max_score, d.score);
    r.mean_score += d.score;
    r.layers.push_back(d);
  }
  BNFOLD_CHECK(!r.layers.empty(), ErrorCode::InvalidArgument,
               "no BatchNormalization of the model matches the statistics");
  if (o.baseline)
    for (const auto& [bn, m] : o.baseline->per_bn)
      BNFOLD_CHECK(stats.per_bn.count(bn), ErrorCode::InvalidArgument,
                   "the baseline has statistics for '{}', which the data's statistics lack (another model?)", bn);
  r.mean_score /= static_cast<double>(r.layers.size());

  std::vector<const LayerDrift*> ranked;
  for (const auto& l : r.layers) ranked.push_back(&l);
  std::stable_sort(ranked.begin(), ranked.end(), [](auto* x, auto* y) { return x->ratio > y->ratio; });
  for (const LayerDrift* l : ranked)
    if (l->drifted) r.deciding.push_back(l->bn);
  const LayerDrift& top = *ranked.front();
  const std::string against =
      o.baseline ? fmt::format("the baseline ({} samples)", o.baseline->samples) : "the model's running statistics";
  auto describe = [](const LayerDrift& l) {
    return fmt::format("{}: distance {:.3g} = {:.3g}x sampling noise; {:.0f}% of channels moved their mean > 3 sd, "
                       "{:.0f}% their variance out of [0.5x, 2x]",
                       l.bn, l.distance, l.ratio, 100 * l.shifted_share, 100 * l.var_shift_share);
  };
  if (stats.samples < o.min_samples) {
    r.verdict = DriftVerdict::TooFewSamples;
    r.summary.push_back(fmt::format("Too few samples: {} (at least {} are needed for a verdict); the scores below are "
                                    "mostly sampling noise.", stats.samples, o.min_samples));
  } else if (!r.deciding.empty()) {
    r.verdict = DriftVerdict::Drifted;
    r.summary.push_back(fmt::format("Drifted: {} of {} BN layers of the data ({} samples) left {}.",
                                    r.deciding.size(), r.layers.size(), stats.samples, against));
    for (size_t i = 0; i < r.deciding.size() && i < 3; ++i)
      for (const auto& l : r.layers)
        if (l.bn == r.deciding[i]) r.summary.push_back(describe(l));
  } else {
    r.verdict = DriftVerdict::InDistribution;
    r.deciding.push_back(top.bn);
    r.summary.push_back(fmt::format("In distribution: no BN layer of the data ({} samples) left {}.", stats.samples,
                                    against));
    r.summary.push_back("Closest to drifting: " + describe(top));
  }
  r.summary.push_back(fmt::format("Rule: a layer drifted when its distance is above {:g}x sampling noise and above {:g}.",
                                  r.threshold, r.min_effect));
  if (!o.baseline)
    r.summary.push_back("No baseline: the reference is the running statistics. For a sharper verdict, save one from "
                        "in-distribution data (drift --save-stats base.json) and pass --baseline base.json.");
  return r;
}

const char* to_string(DriftVerdict verdict) {
  static const char* const kWords[] = {"in-distribution", "drifted", "too-few-samples"};  // in enum order
  return kWords[static_cast<int>(verdict)];
}

}  // namespace bnfold
