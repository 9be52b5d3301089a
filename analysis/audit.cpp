// The train/inference audit: the same samples through the model with running
// statistics (inference) and with batch statistics (a model left in train
// mode), at several batch sizes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <map>

#include <fmt/format.h>

#include "graph/batchnorm.hpp"
#include "graph/check.hpp"
#include "graph/folded_bns.hpp"
#include "graph/onnx_io.hpp"
#include "passes/fold.hpp"
#include "analysis/bn_analysis.hpp"
#include "analysis/evaluate.hpp"
#include "runtime/tensor_tools.hpp"

namespace bnfold {

namespace {

// Runs the data in batches of b (the first n / b * b samples); returns each
// output concatenated over the batches.
std::map<std::string, Tensor> run_all(const Session& s, const Dataset& data, int64_t b, const BnStatsHook& hook,
                                      const std::function<void()>& tick) {
  const std::string in = s.inputs()[0].name;
  std::map<std::string, std::vector<Tensor>> parts;
  data.for_each_batch(
      b,
      [&](int64_t, Tensor samples) {
        auto out = hook ? s.run({{in, std::move(samples)}}, hook) : s.run({{in, std::move(samples)}});
        for (auto& [k, v] : out) parts[k].push_back(std::move(v));
        if (tick) tick();
      },
      true);
  std::map<std::string, Tensor> joined;
  for (auto& [k, list] : parts) joined.emplace(k, concat_rows(list));
  return joined;
}

// The first rows of t (samples), for comparing runs over different sample counts.
Tensor head(const Tensor& t, int64_t rows) {
  std::vector<int64_t> dims = t.dims();
  dims[0] = rows;
  Tensor h(t.dtype(), dims);
  std::memcpy(h.mutable_data(), t.data(), h.nbytes());
  return h;
}

OutputDivergence divergence(const std::string& name, int64_t batch, const Tensor& got, const Tensor& want) {
  OutputDivergence d;
  d.batch = batch;
  d.output = name;
  double diff2 = 0, ref2 = 0, got2 = 0, dot = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double a = got.value_at(i), b = want.value_at(i);
    d.max_abs = std::max(d.max_abs, std::fabs(a - b));
    diff2 += (a - b) * (a - b);
    ref2 += b * b;
    got2 += a * a;
    dot += a * b;
  }
  d.rel_l2 = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
  d.cosine = ref2 > 0 && got2 > 0 ? dot / std::sqrt(ref2 * got2) : 1.0;
  if (want.rank() == 2 && dtype_is_float(want.dtype()) && want.dims()[1] > 1) {
    int64_t same = 0;
    for (int64_t r = 0; r < want.dims()[0]; ++r) same += top_k(got, r, 1)[0].first == top_k(want, r, 1)[0].first;
    d.argmax_agreement = static_cast<double>(same) / static_cast<double>(want.dims()[0]);
  }
  return d;
}

// The running statistics of each inference BN, by node_name.
struct Running {
  const Tensor* mean = nullptr;
  const Tensor* var = nullptr;
  double eps = 0;
};
std::map<std::string, Running> running_stats(const Graph& g, std::vector<std::string>* order) {
  std::map<std::string, Running> out;
  for (const Node* n : g.topological_order()) {
    if (n->op_type() != "BatchNormalization" || !n->domain().empty() || n->inputs().size() < 5) continue;
    const BatchNormAttrs a = batchnorm_attrs(*n);
    if (a.training || !n->input(3) || !n->input(4) || !n->input(3)->is_constant() || !n->input(4)->is_constant())
      continue;
    out[node_name(*n)] = {&n->input(3)->data(), &n->input(4)->data(), a.epsilon};
    order->push_back(node_name(*n));
  }
  return out;
}

std::vector<OutputSpec> output_specs(const std::map<std::string, Tensor>& outs) {
  std::vector<OutputSpec> specs;
  for (const auto& [k, t] : outs) specs.push_back({k, t.dtype(), t.dims()});
  return specs;
}

std::string percent(double v) { return fmt::format("{:.1f}%", 100 * v); }

// Why one BN in train mode hurts, from its statistics at the ablation's batch size.
std::string why_harmful(const LayerShift* l) {
  if (!l) return "";
  if (l->values == 1)
    return fmt::format("at batch {} it normalizes one value per channel: it outputs beta whatever the input",
                       l->batch);
  std::vector<std::string> parts;
  if (l->batch == 1)
    parts.push_back(fmt::format("at batch 1 it normalizes each sample by its own {} values per channel: the "
                                "sample's per-channel mean and scale are erased",
                                l->values));
  else if (l->values <= 16) parts.push_back(fmt::format("only {} values per channel in a batch of {}", l->values, l->batch));
  if (l->var_ratio < 0.5 || l->var_ratio > 2)
    parts.push_back(fmt::format("batch variance {:.3g}x the running variance", l->var_ratio));
  if (l->mean_shift_sigma > 0.5)
    parts.push_back(fmt::format("batch mean {:.2g} running sd from the running mean", l->mean_shift_sigma));
  if (parts.empty()) parts.push_back("its batch statistics differ little from the running ones, but its output is sensitive");
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : "; ") + p;
  return s;
}

}  // namespace

AuditReport audit(std::shared_ptr<const Graph> graph, const Dataset& data, const AuditOptions& o) {
  for (int64_t b : o.batch_sizes) check_batch_size(b, "audit batch size");
  BNFOLD_CHECK(std::isfinite(o.tolerance) && o.tolerance >= 0, ErrorCode::InvalidArgument,
               "audit tolerance {} must be a finite number, 0 or more", o.tolerance);
  BNFOLD_CHECK(o.ablation_samples >= 0, ErrorCode::InvalidArgument, "audit ablation_samples {} is negative",
               o.ablation_samples);
  AuditReport r;
  r.samples = data.size();
  std::vector<int64_t> sizes = o.batch_sizes;
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  for (int64_t b : sizes) (b <= data.size() ? r.batch_sizes : r.skipped_batch_sizes).push_back(b);
  BNFOLD_CHECK(!r.batch_sizes.empty(), ErrorCode::InvalidArgument,
               "the data holds {} samples, fewer than the smallest batch size", data.size());
  SessionOptions inf, bat;
  inf.threads = bat.threads = o.threads;
  bat.bn_mode = BnMode::BatchStatistics;
  Session si(graph, inf), sb(graph, bat);
  BNFOLD_CHECK(si.inputs().size() == 1, ErrorCode::Unsupported, "the audit needs a model with one input");
  std::vector<std::string> bn_order;
  const auto running = running_stats(*graph, &bn_order);
  // Without BN, train and inference mode compute the same: an audit would
  // print "safe" over an empty table.
  BNFOLD_CHECK(!bn_order.empty(), ErrorCode::InvalidArgument, "{}",
               folded_bns(*graph).empty()
                   ? "the model has no BatchNormalization node in inference mode: train and inference mode compute "
                     "the same, so there is nothing to audit"
                   : "the model's BatchNormalization nodes were folded (bnfold fold): it has no train mode left to "
                     "audit; audit the original model");

  const int64_t smallest = r.batch_sizes.front();
  r.ablation_batch = smallest;
  r.ablation_samples = o.ablation_samples > 0 ? std::min(o.ablation_samples, data.size()) / smallest * smallest : 0;

  // Progress: one tick per batch of every run below.
  int64_t total = data.size();  // the samples alone
  for (int64_t b : r.batch_sizes) total += 2 * (data.size() / b);
  total += data.size();  // folded
  total += static_cast<int64_t>(bn_order.size()) * (r.ablation_samples / smallest);
  int64_t done = 0;
  const auto tick = [&] {
    ++done;
    if (o.progress) o.progress(done, total);
  };

  const auto alone = run_all(si, data, 1, {}, tick);  // inference is the reference
  const int scores_at = class_output(output_specs(alone));
  if (scores_at >= 0) {
    auto it = alone.begin();
    std::advance(it, scores_at);
    r.scores_output = it->first;
    r.classes = it->second.dims()[1];
  }
  r.labeled = data.has_labels();
  if (r.labeled) {
    BNFOLD_CHECK(scores_at >= 0, ErrorCode::InvalidArgument,
                 "labels were given, but no output of the model is class scores ([N, classes])");
    check_labels_fit(data.labels(), r.classes, r.scores_output);
    r.accuracy_inference = top_k_accuracy(alone.at(r.scores_output), data.labels(), 1, "audit");
    if (r.classes >= 5) r.top5_inference = top_k_accuracy(alone.at(r.scores_output), data.labels(), 5, "audit");
  }

  for (int64_t b : r.batch_sizes) {
    const auto inf_out = run_all(si, data, b, {}, tick);
    double worst = 0;
    for (const auto& [k, t] : inf_out) {
      const TensorDiff d = compare_tensors(t, head(alone.at(k), t.dims()[0]), 0, 0);
      worst = std::max(worst, d.max_abs);
    }
    r.invariance.emplace_back(b, worst);
    std::map<std::string, LayerShift> shift;
    std::map<std::string, int64_t> batches;
    const BnStatsHook hook = [&](const BnStats& st) {
      if (b == 1 && st.count == 1 &&
          std::find(r.degenerate_at_batch_1.begin(), r.degenerate_at_batch_1.end(), st.bn) ==
              r.degenerate_at_batch_1.end())
        r.degenerate_at_batch_1.push_back(st.bn);
      auto it = running.find(st.bn);
      if (it == running.end()) return;
      const Running& rs = it->second;
      double m = 0, v = 0;
      for (size_t c = 0; c < st.mean.size(); ++c) {
        const auto ic = static_cast<int64_t>(c);
        const double rv = rs.var->value_at(ic) + rs.eps;
        m += std::fabs(st.mean[c] - rs.mean->value_at(ic)) / std::sqrt(rv);
        v += (st.var[c] + rs.eps) / rv;
      }
      LayerShift& l = shift[st.bn];
      l.bn = st.bn;
      l.batch = b;
      l.values = st.count;
      l.mean_shift_sigma += m / static_cast<double>(st.mean.size());
      l.var_ratio += v / static_cast<double>(st.mean.size());
      ++batches[st.bn];
    };
    const auto bat_out = run_all(sb, data, b, hook, tick);
    for (const auto& [k, t] : bat_out) r.divergence.push_back(divergence(k, b, t, head(alone.at(k), t.dims()[0])));
    for (const auto& bn : bn_order) {
      auto it = shift.find(bn);
      if (it == shift.end()) continue;
      LayerShift l = it->second;
      const double k = static_cast<double>(batches[bn]);
      l.mean_shift_sigma /= k;
      l.var_ratio /= k;
      r.layers.push_back(l);
    }
    BatchAccuracy acc;
    acc.batch = b;
    acc.samples = data.size() / b * b;
    if (scores_at >= 0) {
      const Tensor& got = bat_out.at(r.scores_output);
      const Tensor want = head(alone.at(r.scores_output), got.dims()[0]);
      acc.top1_agreement = top1_agreement(got, want);
      if (r.labeled) {
        acc.inference_top1 = top_k_accuracy(want, data.labels(), 1, "audit");
        acc.batch_stats_top1 = top_k_accuracy(got, data.labels(), 1, "audit");
        if (r.classes >= 5) {
          acc.inference_top5 = top_k_accuracy(want, data.labels(), 5, "audit");
          acc.batch_stats_top5 = top_k_accuracy(got, data.labels(), 5, "audit");
        }
      }
    }
    r.accuracy.push_back(acc);
  }

  // The ablation: each BN alone in train mode at the smallest batch size.
  if (r.ablation_samples > 0) {
    const Dataset subset = Dataset::from_tensor(data.batch(0, r.ablation_samples));
    for (const auto& bn : bn_order) {
      SessionOptions one = inf;
      one.batch_statistics_bns = {bn};
      Session s1(graph, one);
      const auto out = run_all(s1, subset, smallest, {}, tick);
      Ablation a;
      a.bn = bn;
      for (const auto& [k, t] : out) {
        const OutputDivergence d = divergence(k, smallest, t, head(alone.at(k), t.dims()[0]));
        a.rel_l2 = std::max(a.rel_l2, d.rel_l2);
        if (k == r.scores_output) a.top1_agreement = d.argmax_agreement;
      }
      for (const auto& l : r.layers)
        if (l.bn == bn && l.batch == smallest) a.why = why_harmful(&l);
      r.ablation.push_back(a);
    }
    std::stable_sort(r.ablation.begin(), r.ablation.end(),
                     [](const Ablation& x, const Ablation& y) { return x.rel_l2 > y.rel_l2; });
  }

  // Fold fidelity: the folded model in inference mode against the original.
  auto folded = clone_graph(*graph);
  const FoldReport fr = fold_batchnorms(*folded);
  r.fold_summary = fmt::format("{} of {} BN folded, {} folded forward, {} scale-shift, {} kept", fr.count(FoldAction::Folded),
                               fr.rows().size(), fr.count(FoldAction::FoldedForward), fr.count(FoldAction::ScaleShift), fr.count(FoldAction::Kept));
  Session sf(std::shared_ptr<const Graph>(std::move(folded)), inf);
  const auto fold_out = run_all(sf, data, 1, {}, tick);
  r.fold_max_abs = 0;
  for (const auto& [k, t] : fold_out) {
    r.fold_max_abs = std::max(r.fold_max_abs, compare_tensors(t, alone.at(k), 0, 0).max_abs);
    const TensorStats st = tensor_stats(alone.at(k));
    r.fold_scale = std::max({r.fold_scale, std::fabs(st.min), std::fabs(st.max)});
  }

  // From which batch size on do the modes agree (every larger size too)?
  for (auto it = r.batch_sizes.rbegin(); it != r.batch_sizes.rend(); ++it) {
    bool ok = true;
    for (const auto& d : r.divergence) ok &= d.batch != *it || d.rel_l2 <= o.tolerance;
    if (!ok) break;
    r.agree_from_batch = *it;
  }

  // The culprits: BNs that alone break the tolerance; when none does but the
  // whole model does, the three that contribute most.
  double worst_at_smallest = 0;
  for (const auto& d : r.divergence)
    if (d.batch == smallest) worst_at_smallest = std::max(worst_at_smallest, d.rel_l2);
  for (const auto& a : r.ablation)
    if (a.rel_l2 > o.tolerance) r.culprits.push_back(a.bn);
  if (r.culprits.empty() && worst_at_smallest > o.tolerance)
    for (size_t i = 0; i < r.ablation.size() && i < 3; ++i) r.culprits.push_back(r.ablation[i].bn);

  // The verdict, in plain words; the first line answers the question.
  double worst_inv = 0;
  for (const auto& [b, v] : r.invariance) worst_inv = std::max(worst_inv, v);
  const bool invariant = worst_inv <= 1e-4 * std::max(1.0, r.fold_scale);
  const BatchAccuracy& acc1 = r.accuracy.front();
  const bool train_ok = worst_at_smallest <= o.tolerance;
  std::string first;
  if (invariant)
    first = fmt::format("Safe to serve at batch {} in inference mode (a sample's output does not depend on its batch{}).",
                        smallest, r.labeled ? ", accuracy " + percent(r.accuracy_inference) : "");
  else
    first = fmt::format("Not safe even in inference mode: a sample's output changes with its batch by up to {:.3g}.",
                        worst_inv);
  std::string train = fmt::format(" Served in train mode (batch statistics) at batch {}, ", smallest);
  if (train_ok) {
    train += fmt::format("it also agrees (relative L2 {:.3g} <= {:g}).", worst_at_smallest, o.tolerance);
  } else if (r.labeled) {
    train += fmt::format("accuracy falls to {} (from {}); top-1 agrees with inference for {} of samples.",
                         percent(acc1.batch_stats_top1), percent(acc1.inference_top1), percent(acc1.top1_agreement));
  } else if (acc1.top1_agreement >= 0) {
    train += fmt::format("the top-1 class agrees with inference for only {} of samples (relative L2 {:.3g}).",
                         percent(acc1.top1_agreement), worst_at_smallest);
  } else {
    train += fmt::format("the outputs differ by {:.3g} relative L2 (tolerance {:g}).", worst_at_smallest, o.tolerance);
  }
  r.verdict.push_back(first + train);
  if (!r.culprits.empty()) {
    const Ablation* top = nullptr;
    for (const auto& a : r.ablation)
      if (a.bn == r.culprits.front()) top = &a;
    std::string line = fmt::format(
        "The layer{} to blame: {}. Alone in train mode at batch {}, {} changes the outputs by {:.3g} relative L2{}{}.",
        r.culprits.size() == 1 ? "" : "s", fmt::join(r.culprits, ", "), smallest, top->bn, top->rel_l2,
        top->top1_agreement >= 0 ? fmt::format(" (top-1 agreement {})", percent(top->top1_agreement)) : "",
        top->why.empty() ? "" : "; " + top->why);
    r.verdict.push_back(line);
  }
  if (!r.degenerate_at_batch_1.empty())
    r.verdict.push_back(fmt::format(
        "At batch 1, {} BatchNormalization layer(s) normalize a single value per channel and output beta whatever "
        "the input (PyTorch refuses this: \"Expected more than 1 value per channel when training\"): {}.",
        r.degenerate_at_batch_1.size(), fmt::join(r.degenerate_at_batch_1, ", ")));
  if (r.agree_from_batch > 0)
    r.verdict.push_back(fmt::format("From batch size {} on the two modes agree within {:g} relative L2.",
                                    r.agree_from_batch, o.tolerance));
  else
    r.verdict.push_back(fmt::format("At none of the tested batch sizes ({}) do the modes agree within {:g} relative L2.",
                                    fmt::join(r.batch_sizes, ", "), o.tolerance));
  r.verdict.push_back(invariant
                          ? fmt::format("In inference mode a sample's output does not depend on its batch (max "
                                        "difference {:.2g}).", worst_inv)
                          : fmt::format("In inference mode a sample's output changes with its batch by up to {:.3g}: "
                                        "the model mixes samples, or the runtime has a bug.", worst_inv));
  r.verdict.push_back(fmt::format("Folding ({}) changes outputs by at most {:.2g} (outputs up to {:.3g}).",
                                  r.fold_summary, r.fold_max_abs, r.fold_scale));
  if (!r.skipped_batch_sizes.empty()) {
    std::string sizes_text;
    for (int64_t b : r.skipped_batch_sizes) sizes_text += (sizes_text.empty() ? "" : ", ") + std::to_string(b);
    r.verdict.push_back(fmt::format("Not measured at batch size{} {}: the data holds only {} samples.",
                                    r.skipped_batch_sizes.size() == 1 ? "" : "s", sizes_text, data.size()));
  }
  return r;
}

}  // namespace bnfold
