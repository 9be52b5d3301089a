// The train/inference audit: the same samples through the model with running
// statistics (inference) and with batch statistics (a model left in train
// mode), at several batch sizes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <map>

#include <fmt/format.h>

#include "bnfold/graph/batchnorm.hpp"
#include "graph/check.hpp"
#include "bnfold/graph/folded_bns.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/passes/fold.hpp"
#include "analysis/audit_phases.hpp"
#include "analysis/evaluate.hpp"
#include "bnfold/runtime/tensor_tools.hpp"

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

// The running statistics of each BN node in inference mode, by name; `order`
// gets their names, producers first.
std::map<std::string, RunningStatistics> inference_mode_bns(const Graph& g, std::vector<std::string>* order) {
  std::map<std::string, RunningStatistics> out;
  for (RunningStatistics& r : running_statistics(g)) {
    if (r.training || r.folded) continue;
    order->push_back(r.bn);
    out.emplace(r.bn, std::move(r));
  }
  return out;
}

std::vector<OutputSpec> output_specs(const std::map<std::string, Tensor>& outs) {
  std::vector<OutputSpec> specs;
  for (const auto& [k, t] : outs) specs.push_back({k, t.dtype(), t.dims()});
  return specs;
}


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

// The state every phase of one audit shares.
struct AuditRun {
  AuditRun(const Dataset& d, const AuditOptions& options, AuditReport& report, std::shared_ptr<const Graph> g)
      : data(d), o(options), r(report), graph(std::move(g)) {}
  const Dataset& data;
  const AuditOptions& o;
  AuditReport& r;
  std::shared_ptr<const Graph> graph;
  SessionOptions inference;
  std::unique_ptr<Session> si, sb;  // inference mode; batch statistics
  std::vector<std::string> bn_order;
  std::map<std::string, RunningStatistics> running;
  std::map<std::string, Tensor> alone;  // every sample alone in inference mode: the reference
  int scores_at = -1;
  int64_t done = 0, total = 0;
  void tick() {
    ++done;
    if (o.progress) o.progress(done, total);
  }
};

// Phase 1: the options, the batch sizes the data allows, the sessions, the BNs.
void plan_audit(AuditRun& a) {
  const AuditOptions& o = a.o;
  AuditReport& r = a.r;
  for (int64_t b : o.batch_sizes) check_batch_size(b, "audit batch size");
  BNFOLD_CHECK(std::isfinite(o.tolerance) && o.tolerance >= 0, ErrorCode::InvalidArgument,
               "audit tolerance {} must be a finite number, 0 or more", o.tolerance);
  BNFOLD_CHECK(o.ablation_samples >= 0, ErrorCode::InvalidArgument, "audit ablation_samples {} is negative",
               o.ablation_samples);
  r.samples = a.data.size();
  std::vector<int64_t> sizes = o.batch_sizes;
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  for (int64_t b : sizes) (b <= a.data.size() ? r.batch_sizes : r.skipped_batch_sizes).push_back(b);
  BNFOLD_CHECK(!r.batch_sizes.empty(), ErrorCode::InvalidArgument,
               "the data holds {} samples, fewer than the smallest batch size", a.data.size());
  SessionOptions bat;
  a.inference.threads = bat.threads = o.threads;
  bat.bn_mode = BnMode::BatchStatistics;
  a.si = std::make_unique<Session>(a.graph, a.inference);
  a.sb = std::make_unique<Session>(a.graph, bat);
  BNFOLD_CHECK(a.si->inputs().size() == 1, ErrorCode::Unsupported, "the audit needs a model with one input");
  a.running = inference_mode_bns(*a.graph, &a.bn_order);
  // Without BN, train and inference mode compute the same: an audit would
  // print "safe" over an empty table.
  BNFOLD_CHECK(!a.bn_order.empty(), ErrorCode::InvalidArgument, "{}",
               folded_bns(*a.graph).empty()
                   ? "the model has no BatchNormalization node in inference mode: train and inference mode compute "
                     "the same, so there is nothing to audit"
                   : "the model's BatchNormalization nodes were folded (bnfold fold): it has no train mode left to "
                     "audit; audit the original model");
  const int64_t smallest = r.batch_sizes.front();
  r.ablation_batch = smallest;
  r.ablation_samples = o.ablation_samples > 0 ? std::min(o.ablation_samples, a.data.size()) / smallest * smallest : 0;
  // Progress: one tick per batch of every run the audit makes.
  a.total = a.data.size();  // the samples alone
  for (int64_t b : r.batch_sizes) a.total += 2 * (a.data.size() / b);
  a.total += a.data.size();  // folded
  a.total += static_cast<int64_t>(a.bn_order.size()) * (r.ablation_samples / smallest);
}

// Phase 2: every sample alone in inference mode, the reference; accuracy with labels.
void measure_alone(AuditRun& a) {
  AuditReport& r = a.r;
  a.alone = run_all(*a.si, a.data, 1, {}, [&a] { a.tick(); });
  a.scores_at = class_output(output_specs(a.alone));
  if (a.scores_at >= 0) {
    auto it = a.alone.begin();
    std::advance(it, a.scores_at);
    r.scores_output = it->first;
    r.classes = it->second.dims()[1];
  }
  r.labeled = a.data.has_labels();
  if (r.labeled) {
    BNFOLD_CHECK(a.scores_at >= 0, ErrorCode::InvalidArgument,
                 "labels were given, but no output of the model is class scores ([N, classes])");
    check_labels_fit(a.data.labels(), r.classes, r.scores_output);
    r.accuracy_inference = top_k_accuracy(a.alone.at(r.scores_output), a.data.labels(), 1, "audit");
    if (r.classes >= 5) r.top5_inference = top_k_accuracy(a.alone.at(r.scores_output), a.data.labels(), 5, "audit");
  }
}

// Phase 3, per batch size: batch invariance in inference mode; batch vs
// running statistics per layer; outputs and accuracy in train mode.
void measure_batch_size(AuditRun& a, int64_t b) {
  AuditReport& r = a.r;
  const auto tick = [&a] { a.tick(); };
  const auto inf_out = run_all(*a.si, a.data, b, {}, tick);
  double worst = 0;
  for (const auto& [k, t] : inf_out)
    worst = std::max(worst, compare_tensors(t, head(a.alone.at(k), t.dims()[0]), 0, 0).max_abs);
  r.invariance.emplace_back(b, worst);
  std::map<std::string, LayerShift> shift;
  std::map<std::string, int64_t> batches;
  const BnStatsHook hook = [&](const BnStats& st) {
    if (b == 1 && st.count == 1 &&
        std::find(r.degenerate_at_batch_1.begin(), r.degenerate_at_batch_1.end(), st.bn) == r.degenerate_at_batch_1.end())
      r.degenerate_at_batch_1.push_back(st.bn);
    auto it = a.running.find(st.bn);
    if (it == a.running.end()) return;
    const RunningStatistics& rs = it->second;
    double m = 0, v = 0;
    for (size_t c = 0; c < st.mean.size() && c < rs.mean.size(); ++c) {
      const double rv = rs.var[c] + rs.epsilon;
      m += std::fabs(st.mean[c] - rs.mean[c]) / std::sqrt(rv);
      v += (st.var[c] + rs.epsilon) / rv;
    }
    LayerShift& l = shift[st.bn];
    l.bn = st.bn;
    l.batch = b;
    l.values = st.count;
    l.mean_shift_sigma += m / static_cast<double>(st.mean.size());
    l.var_ratio += v / static_cast<double>(st.mean.size());
    ++batches[st.bn];
  };
  const auto bat_out = run_all(*a.sb, a.data, b, hook, tick);
  for (const auto& [k, t] : bat_out) r.divergence.push_back(divergence(k, b, t, head(a.alone.at(k), t.dims()[0])));
  for (const auto& bn : a.bn_order) {
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
  acc.samples = a.data.size() / b * b;
  if (a.scores_at >= 0) {
    const Tensor& got = bat_out.at(r.scores_output);
    const Tensor want = head(a.alone.at(r.scores_output), got.dims()[0]);
    acc.top1_agreement = top1_agreement(got, want);
    if (r.labeled) {
      acc.inference_top1 = top_k_accuracy(want, a.data.labels(), 1, "audit");
      acc.batch_stats_top1 = top_k_accuracy(got, a.data.labels(), 1, "audit");
      if (r.classes >= 5) {
        acc.inference_top5 = top_k_accuracy(want, a.data.labels(), 5, "audit");
        acc.batch_stats_top5 = top_k_accuracy(got, a.data.labels(), 5, "audit");
      }
    }
  }
  r.accuracy.push_back(acc);
}

// Phase 4, the ablation: each BN alone in train mode at the smallest batch size.
void run_ablation(AuditRun& a) {
  AuditReport& r = a.r;
  if (r.ablation_samples == 0) return;
  const int64_t smallest = r.batch_sizes.front();
  const Dataset subset = Dataset::from_tensor(a.data.batch(0, r.ablation_samples));
  for (const auto& bn : a.bn_order) {
    SessionOptions one = a.inference;
    one.batch_statistics_bns = {bn};
    Session s1(a.graph, one);
    const auto out = run_all(s1, subset, smallest, {}, [&a] { a.tick(); });
    Ablation ab;
    ab.bn = bn;
    for (const auto& [k, t] : out) {
      const OutputDivergence d = divergence(k, smallest, t, head(a.alone.at(k), t.dims()[0]));
      ab.rel_l2 = std::max(ab.rel_l2, d.rel_l2);
      if (k == r.scores_output) ab.top1_agreement = d.argmax_agreement;
    }
    if (r.labeled) ab.accuracy = top_k_accuracy(out.at(r.scores_output), a.data.labels(), 1, "audit");
    for (const auto& l : r.layers)
      if (l.bn == bn && l.batch == smallest) ab.why = why_harmful(&l);
    r.ablation.push_back(ab);
  }
  if (r.labeled)
    r.ablation_accuracy_inference =
        top_k_accuracy(head(a.alone.at(r.scores_output), r.ablation_samples), a.data.labels(), 1, "audit");
  // What changes the answer ranks first: accuracy with labels, else the top
  // class; the output change breaks ties (and ranks outputs that are not scores).
  const auto key = [&r](const Ablation& x) {
    return r.labeled ? x.accuracy : x.top1_agreement >= 0 ? x.top1_agreement : 0.0;
  };
  std::stable_sort(r.ablation.begin(), r.ablation.end(), [&](const Ablation& x, const Ablation& y) {
    return key(x) != key(y) ? key(x) < key(y) : x.rel_l2 > y.rel_l2;
  });
}

// Phase 5, fold fidelity: the folded model in inference mode against the original.
void measure_fold(AuditRun& a) {
  AuditReport& r = a.r;
  auto folded = clone_graph(*a.graph);
  const FoldReport fr = fold_batchnorms(*folded);
  r.fold_summary = fmt::format("{} of {} BN folded, {} folded forward, {} scale-shift, {} kept",
                               fr.count(FoldAction::Folded), fr.rows().size(), fr.count(FoldAction::FoldedForward),
                               fr.count(FoldAction::ScaleShift), fr.count(FoldAction::Kept));
  Session sf(std::shared_ptr<const Graph>(std::move(folded)), a.inference);
  const auto fold_out = run_all(sf, a.data, 1, {}, [&a] { a.tick(); });
  r.fold_max_abs = 0;
  for (const auto& [k, t] : fold_out) {
    r.fold_max_abs = std::max(r.fold_max_abs, compare_tensors(t, a.alone.at(k), 0, 0).max_abs);
    const TensorStats st = tensor_stats(a.alone.at(k));
    r.fold_scale = std::max({r.fold_scale, std::fabs(st.min), std::fabs(st.max)});
  }
}

}  // namespace

AuditReport audit(const AnalysisModel& model, const Dataset& data, const AuditOptions& options) {
  check_audit_precisions(options.precisions);
  AuditReport r;
  AuditRun run{data, options, r, model.shared()};
  plan_audit(run);
  measure_alone(run);
  for (int64_t b : r.batch_sizes) measure_batch_size(run, b);
  run_ablation(run);
  measure_fold(run);
  judge_audit(r, options.tolerance);
  r.precisions = audit_precisions(model, data, options);
  for (const auto& c : r.precisions) r.verdict.push_back(c.verdict.front());
  if (model.training_bns() > 0) {
    // Exported in training mode: the model as it stands is the "train mode" of the audit.
    const int n = model.training_bns();
    const BatchAccuracy& a1 = r.accuracy.front();
    std::string cost = r.labeled ? fmt::format(": accuracy {} at batch {} against {} with its running statistics",
                                               fmt::format("{:.1f}%", 100 * a1.batch_stats_top1), a1.batch,
                                               fmt::format("{:.1f}%", 100 * a1.inference_top1))
                                 : "";
    r.verdict.insert(r.verdict.begin(),
                     fmt::format("This model was exported in training mode: its {} BatchNormalization node{} "
                                 "normalize{} with batch statistics, so as it stands it computes what the audit calls "
                                 "train mode, at every batch size{}. Below, inference mode is its eval-mode form "
                                 "(running statistics), which `bnfold fold --eval-mode` writes.",
                                 n, n == 1 ? "" : "s", n == 1 ? "s" : "", cost));
  }
  return r;
}

}  // namespace bnfold
