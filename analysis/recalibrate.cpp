// AdaBN: re-estimating BatchNormalization's running statistics on new data.
#include <cmath>
#include <unordered_map>

#include "bnfold/graph/folded_bns.hpp"

#include "bnfold/graph/batchnorm.hpp"
#include "graph/check.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/analysis/bn_analysis.hpp"
#include "ops/ops.hpp"

namespace bnfold {

namespace {

std::vector<Node*> inference_bns(Graph& g) {
  std::vector<Node*> out;
  for (const BatchNorm& bn : inference_batchnorms(g)) out.push_back(&bn.node());
  BNFOLD_CHECK(!out.empty() || folded_bns(g).empty(), ErrorCode::InvalidArgument,
               "the model was folded ({} BNs are in its weights now): recalibrate the model before folding, then "
               "fold the result",
               folded_bns(g).size());
  BNFOLD_CHECK(!out.empty(), ErrorCode::InvalidArgument,
               "the model has no BatchNormalization in inference mode with constant parameters to recalibrate");
  return out;
}

// Dependency level of each BN: 0 when no other BN lies upstream of its input.
std::unordered_map<const Node*, int> levels(const Graph& g) {
  std::unordered_map<const Value*, int> value_level;  // 1 + deepest BN upstream, 0 for none
  std::unordered_map<const Node*, int> bn_level;
  for (const Node* n : g.topological_order()) {
    int in = 0;
    for (const Value* v : n->inputs())
      if (v) in = std::max(in, value_level.count(v) ? value_level[v] : 0);
    const bool is_bn = BatchNorm::is(*n);
    if (is_bn) bn_level[n] = in;
    for (const Value* out : n->outputs())
      if (out) value_level[out] = is_bn ? in + 1 : in;
  }
  return bn_level;
}

}  // namespace

void replace_constant(Graph& g, Node* n, size_t k, Tensor data) {
  Value* v = n->input(k);
  if (v->is_constant() && v->uses().size() == 1 && !v->is_graph_output()) {
    g.set_constant_data(v, std::move(data));
    return;
  }
  // A value the BN alone reads, made by an Identity or a Constant node: the
  // new constant takes its name (PyTorch's exporter names these after the
  // state_dict key).
  Node* p = v->producer();
  if (p && (p->op_type() == "Identity" || p->op_type() == "Constant") && p->outputs().size() == 1 &&
      v->uses().size() == 1 && !v->is_graph_output()) {
    const std::string name = v->name();
    g.rename_value(v, g.unique_name(name + "_replaced"));
    g.set_input(n, k, g.add_constant(name, std::move(data)));
    g.erase_node(p);
    return;
  }
  // Shared with other nodes: a new constant beside it.
  g.set_input(n, k, g.add_constant(g.unique_name(v->name() + "_" + node_name(*n)), std::move(data)));
}

namespace {

// The source's weight in the mix: N pseudo-samples against the data's n.
struct RecalibrationPrior {
  double pseudo_count = 0;
  int64_t samples = 0;
};

// The target statistics (of n samples) mixed with the model's (the source)
// as if the source were N samples of a distribution with its moments
// (Schneider et al. 2020): mu = (N mu_s + n mu_t) / (N + n), and the variance
// of the mixture, which includes how far each mean lies from mu.
void mix_with_source(std::vector<double>& mean, std::vector<double>& var, const Tensor& old_mean,
                     const Tensor& old_var, const RecalibrationPrior& prior) {
  if (!(prior.pseudo_count > 0)) return;
  const double n = static_cast<double>(prior.samples), N = prior.pseudo_count;
  const double ws = N / (N + n), wt = n / (N + n);
  for (size_t c = 0; c < mean.size(); ++c) {
    const double ms = old_mean.value_at(static_cast<int64_t>(c)), vs = old_var.value_at(static_cast<int64_t>(c));
    const double mu = ws * ms + wt * mean[c];
    var[c] = ws * (vs + (ms - mu) * (ms - mu)) + wt * (var[c] + (mean[c] - mu) * (mean[c] - mu));
    mean[c] = mu;
  }
}

void set_stats(Graph& g, Node* bn, std::vector<double> mean, std::vector<double> var, RecalibratedLayer* layer,
               const RecalibrationPrior& prior) {
  const Tensor& old_mean = bn->input(3)->data();
  const Tensor& old_var = bn->input(4)->data();
  const double eps = batchnorm_attrs(*bn).epsilon;
  double shift = 0, ratio = 0;
  const auto c = static_cast<int64_t>(mean.size());
  BNFOLD_CHECK(c == old_mean.numel(), ErrorCode::Internal, "{}: channel count", bn->label());
  mix_with_source(mean, var, old_mean, old_var, prior);
  Tensor m(DType::Float64, {c}), v(DType::Float64, {c});
  for (int64_t i = 0; i < c; ++i) {
    const auto ui = static_cast<size_t>(i);
    // Never written: a running statistic that is not a number, or a negative
    // variance, normalizes every later input to NaN.
    BNFOLD_CHECK(std::isfinite(mean[ui]) && std::isfinite(var[ui]) && var[ui] >= 0, ErrorCode::InvalidArgument,
                 "{}: the new statistics of channel {} are mean {} and variance {}; nothing was written",
                 bn->label(), i, mean[ui], var[ui]);
    m.mutable_data_as<double>()[i] = mean[ui];
    v.mutable_data_as<double>()[i] = var[ui];
    shift += std::fabs(mean[ui] - old_mean.value_at(i)) / std::sqrt(old_var.value_at(i) + eps);
    ratio += (var[ui] + eps) / (old_var.value_at(i) + eps);
  }
  Tensor mt(old_mean.dtype(), old_mean.dims()), vt(old_var.dtype(), old_var.dims());
  ops::cast_into(m, &mt);
  ops::cast_into(v, &vt);
  const std::string base = node_name(*bn);
  replace_constant(g, bn, 3, std::move(mt));
  replace_constant(g, bn, 4, std::move(vt));
  layer->bn = base;
  layer->mean_shift_sigma = shift / static_cast<double>(c);
  layer->var_ratio = ratio / static_cast<double>(c);
}

// A BN's statistics from accumulated moments: the population variance, or
// n/(n-1) times it (PyTorch's running_var convention).
RecalibratedLayer set_moments(Graph& g, Node* bn, const ChannelMoments& m, bool unbiased_var,
                              const RecalibrationPrior& prior) {
  std::vector<double> var = m.variance();
  if (unbiased_var && m.count > 1)
    for (double& v : var) v *= static_cast<double>(m.count) / static_cast<double>(m.count - 1);
  RecalibratedLayer layer;
  set_stats(g, bn, m.mean, var, &layer, prior);
  return layer;
}

std::string single_input(const Session& s) {
  BNFOLD_CHECK(s.inputs().size() == 1, ErrorCode::Unsupported,
               "recalibration needs a model with one input; this one has {}", s.inputs().size());
  return s.inputs()[0].name;
}

}  // namespace

void check_recalibration_prior(double prior) {
  BNFOLD_CHECK(std::isfinite(prior) && prior >= 0, ErrorCode::InvalidArgument,
               "the prior's pseudo-count is {}: give 0 (replace the statistics) or a positive number of samples",
               prior);
}

const char* recalibration_mode_name(RecalibrationMode m) {
  switch (m) {
    case RecalibrationMode::UpdateBn: return "update_bn";
    case RecalibrationMode::FromStatistics: return "statistics";
    default: return "sequential";
  }
}

RecalibrationMode parse_recalibration_mode(const std::string& name) {
  if (name == "sequential") return RecalibrationMode::Sequential;
  if (name == "update-bn") return RecalibrationMode::UpdateBn;
  failf(ErrorCode::InvalidArgument, "recalibration mode '{}': use sequential or update-bn", name);
}

RecalibrationReport recalibrate_from_stats(Graph& g, const BnInputStats& stats, bool unbiased_var, double prior) {
  check_recalibration_prior(prior);
  RecalibrationReport r;
  r.prior = prior;
  r.mode = RecalibrationMode::FromStatistics;
  r.unbiased_var = unbiased_var;
  r.samples = stats.samples;
  for (Node* bn : inference_bns(g)) {
    auto it = stats.per_bn.find(node_name(*bn));
    BNFOLD_CHECK(it != stats.per_bn.end(), ErrorCode::InvalidArgument,
                 "the statistics have nothing for {}: they were collected for another model{}", bn->label(),
                 stats.model.empty() ? "" : " (" + stats.model + ")");
    const ChannelMoments& m = it->second;
    BNFOLD_CHECK(static_cast<int64_t>(m.mean.size()) == bn->input(3)->data().numel() && m.count > 0,
                 ErrorCode::InvalidArgument, "{}: the statistics have {} channels (count {}), the model {}",
                 bn->label(), m.mean.size(), m.count, bn->input(3)->data().numel());
    r.layers.push_back(set_moments(g, bn, m, unbiased_var, {prior, stats.samples}));
  }
  g.remove_unused_values();
  return r;
}

RecalibrationReport recalibrate(Graph& g, const Dataset& data, RecalibrationMode mode, int64_t batch, int threads,
                                const Progress& progress, bool unbiased_var, double prior) {
  check_batch_size(batch);
  check_recalibration_prior(prior);
  RecalibrationReport r;
  r.prior = prior;
  r.mode = mode;
  r.unbiased_var = unbiased_var || mode == RecalibrationMode::UpdateBn;
  r.samples = data.size();
  const std::vector<Node*> bns = inference_bns(g);
  if (mode == RecalibrationMode::UpdateBn) {
    // One train-mode pass; like PyTorch, each batch counts once and the
    // variance is the unbiased one of the batch.
    SessionOptions so;
    so.threads = threads;
    so.bn_mode = BnMode::BatchStatistics;
    Session s(std::shared_ptr<const Graph>(clone_graph(g)), so);
    const std::string input = single_input(s);
    std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> sums;
    int64_t batches = 0;
    data.for_each_batch(batch, [&](int64_t start, Tensor samples) {
      const int64_t n = samples.dims()[0];
      s.run({{input, std::move(samples)}}, [&](const BnStats& st) {
        auto& [m, v] = sums[st.bn];
        m.resize(st.mean.size(), 0.0);
        v.resize(st.var.size(), 0.0);
        const double unbias = st.count > 1 ? static_cast<double>(st.count) / static_cast<double>(st.count - 1) : 1.0;
        for (size_t c = 0; c < st.mean.size(); ++c) {
          m[c] += st.mean[c];
          v[c] += st.var[c] * unbias;
        }
      });
      ++batches;
      if (progress) progress(start + n, data.size());
    });
    r.passes = 1;
    for (Node* bn : bns) {
      auto it = sums.find(node_name(*bn));
      if (it == sums.end()) continue;
      auto [m, v] = it->second;
      for (size_t c = 0; c < m.size(); ++c) {
        m[c] /= static_cast<double>(batches);
        v[c] /= static_cast<double>(batches);
      }
      RecalibratedLayer layer;
      set_stats(g, bn, m, v, &layer, {prior, data.size()});
      r.layers.push_back(layer);
    }
    g.remove_unused_values();
    return r;
  }

  // Sequential: level by level, each with the levels before already updated.
  const auto level = levels(g);
  int max_level = 0;
  for (Node* bn : bns) max_level = std::max(max_level, level.at(bn));
  for (int l = 0; l <= max_level; ++l) {
    const BnInputStats stats = collect_bn_input_stats(std::shared_ptr<const Graph>(clone_graph(g)), data, batch,
                                                      threads, [&](int64_t done, int64_t total) {
                                                        if (progress) progress(l * total + done, (max_level + 1) * total);
                                                      });
    ++r.passes;
    for (Node* bn : bns) {
      if (level.at(bn) != l) continue;
      const ChannelMoments& m = stats.per_bn.at(node_name(*bn));
      r.layers.push_back(set_moments(g, bn, m, unbiased_var, {prior, data.size()}));
    }
  }
  g.remove_unused_values();  // the statistics no BN reads any more
  return r;
}

}  // namespace bnfold
