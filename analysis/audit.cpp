// The train/inference audit: the same samples through the model with running
// statistics (inference) and with batch statistics (a model left in train
// mode), at several batch sizes.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "graph/batchnorm.hpp"
#include "graph/check.hpp"
#include "graph/onnx_io.hpp"
#include "passes/fold.hpp"
#include "analysis/bn_analysis.hpp"
#include "runtime/tensor_tools.hpp"

namespace bnfold {

namespace {

// Runs the data in batches of b (the first n / b * b samples); returns each
// output concatenated over the batches.
std::map<std::string, Tensor> run_all(const Session& s, const Dataset& data, int64_t b, const BnStatsHook& hook,
                                      const std::function<void()>& tick) {
  const int64_t n = data.size() / b * b;
  const std::string in = s.inputs()[0].name;
  std::map<std::string, std::vector<Tensor>> parts;
  for (int64_t start = 0; start < n; start += b) {
    auto out = hook ? s.run({{in, data.batch(start, b)}}, hook) : s.run({{in, data.batch(start, b)}});
    for (auto& [k, v] : out) parts[k].push_back(std::move(v));
    if (tick) tick();
  }
  std::map<std::string, Tensor> joined;
  for (auto& [k, list] : parts) {
    std::vector<int64_t> dims = list[0].dims();
    dims[0] = 0;
    for (const Tensor& t : list) dims[0] += t.dims()[0];
    Tensor all(list[0].dtype(), dims);
    size_t at = 0;
    for (const Tensor& t : list) {
      std::memcpy(static_cast<char*>(all.mutable_data()) + at, t.data(), t.nbytes());
      at += t.nbytes();
    }
    joined.emplace(k, std::move(all));
  }
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

}  // namespace

AuditReport audit(std::shared_ptr<const Graph> graph, const Dataset& data, const AuditOptions& o) {
  AuditReport r;
  r.samples = data.size();
  std::vector<int64_t> sizes = o.batch_sizes;
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  for (int64_t b : sizes)
    if (b > 0 && b <= data.size()) r.batch_sizes.push_back(b);
  BNFOLD_CHECK(!r.batch_sizes.empty(), ErrorCode::InvalidArgument,
               "the data holds {} samples, fewer than the smallest batch size", data.size());
  SessionOptions inf, bat;
  inf.threads = bat.threads = o.threads;
  bat.bn_mode = BnMode::BatchStatistics;
  Session si(graph, inf), sb(graph, bat);
  BNFOLD_CHECK(si.inputs().size() == 1, ErrorCode::Unsupported, "the audit needs a model with one input");

  // Progress: one tick per batch of every run below.
  int64_t total = data.size();  // the samples alone
  for (int64_t b : r.batch_sizes) total += 2 * (data.size() / b);
  total += data.size();  // folded
  int64_t done = 0;
  const auto tick = [&] {
    ++done;
    if (o.progress) o.progress(done, total);
  };

  const auto alone = run_all(si, data, 1, {}, tick);  // inference is the reference
  std::map<std::string, std::pair<double, double>> shift;  // bn -> sums at the largest batch
  std::map<std::string, int64_t> shift_batches;
  std::vector<std::string> order;
  const int64_t largest = r.batch_sizes.back();
  for (int64_t b : r.batch_sizes) {
    const auto inf_out = run_all(si, data, b, {}, tick);
    double worst = 0;
    for (const auto& [k, t] : inf_out) {
      const TensorDiff d = compare_tensors(t, head(alone.at(k), t.dims()[0]), 0, 0);
      worst = std::max(worst, d.max_abs);
    }
    r.invariance.emplace_back(b, worst);
    const BnStatsHook hook = [&](const BnStats& st) {
      if (b == 1 && st.count == 1 &&
          std::find(r.degenerate_at_batch_1.begin(), r.degenerate_at_batch_1.end(), st.bn) ==
              r.degenerate_at_batch_1.end())
        r.degenerate_at_batch_1.push_back(st.bn);
      if (b != largest) return;
      const Value* bnout = nullptr;
      for (const Node* n : graph->nodes())
        if (n->op_type() == "BatchNormalization" && node_name(*n) == st.bn) bnout = n->output(0);
      const Node* n = bnout ? bnout->producer() : nullptr;
      if (!n || !n->input(3)->is_constant() || !n->input(4)->is_constant()) return;
      const double eps = batchnorm_attrs(*n).epsilon;
      double s = 0, v = 0;
      for (size_t c = 0; c < st.mean.size(); ++c) {
        const double rv = n->input(4)->data().value_at(static_cast<int64_t>(c)) + eps;
        s += std::fabs(st.mean[c] - n->input(3)->data().value_at(static_cast<int64_t>(c))) / std::sqrt(rv);
        v += (st.var[c] + eps) / rv;
      }
      if (!shift.count(st.bn)) order.push_back(st.bn);
      shift[st.bn].first += s / static_cast<double>(st.mean.size());
      shift[st.bn].second += v / static_cast<double>(st.mean.size());
      ++shift_batches[st.bn];
    };
    const auto bat_out = run_all(sb, data, b, hook, tick);
    for (const auto& [k, t] : bat_out) r.divergence.push_back(divergence(k, b, t, head(alone.at(k), t.dims()[0])));
  }
  for (const auto& bn : order) {
    const double k = static_cast<double>(shift_batches[bn]);
    r.layers.push_back({bn, shift[bn].first / k, shift[bn].second / k});
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

  // The verdict, in plain words.
  const OutputDivergence* at1 = nullptr;
  const OutputDivergence* at_max = nullptr;
  for (const auto& d : r.divergence) {
    if (d.batch == r.batch_sizes.front() && !at1) at1 = &d;
    if (d.batch == largest) at_max = &d;
  }
  auto describe = [](const OutputDivergence& d) {
    std::string s = fmt::format("relative L2 difference {:.3g}, cosine {:.4f}", d.rel_l2, d.cosine);
    if (d.argmax_agreement >= 0) s += fmt::format(", top-1 class agrees for {:.0f}% of samples", 100 * d.argmax_agreement);
    return s;
  };
  if (at1)
    r.verdict.push_back(fmt::format("Served in train mode (batch statistics) at batch {}, the outputs change: {}.",
                                    at1->batch, describe(*at1)));
  if (!r.degenerate_at_batch_1.empty())
    r.verdict.push_back(fmt::format(
        "At batch 1, {} BatchNormalization layer(s) normalize a single value per channel and output beta whatever "
        "the input (PyTorch refuses this: \"Expected more than 1 value per channel when training\"): {}.",
        r.degenerate_at_batch_1.size(), r.degenerate_at_batch_1.front()));
  if (r.agree_from_batch > 0)
    r.verdict.push_back(fmt::format("From batch size {} on the two modes agree within {:g} relative L2.",
                                    r.agree_from_batch, o.tolerance));
  else if (at_max)
    r.verdict.push_back(fmt::format("At none of the tested batch sizes do the modes agree within {:g}; at batch {}: {}.",
                                    o.tolerance, largest, describe(*at_max)));
  double worst_inv = 0;
  for (const auto& [b, v] : r.invariance) worst_inv = std::max(worst_inv, v);
  r.verdict.push_back(worst_inv <= 1e-4 * std::max(1.0, r.fold_scale)
                          ? fmt::format("In inference mode a sample's output does not depend on its batch (max "
                                        "difference {:.2g}).", worst_inv)
                          : fmt::format("In inference mode a sample's output changes with its batch by up to {:.3g}: "
                                        "the model mixes samples, or the runtime has a bug.", worst_inv));
  r.verdict.push_back(fmt::format("Folding ({}) changes outputs by at most {:.2g} (outputs up to {:.3g}).",
                                  r.fold_summary, r.fold_max_abs, r.fold_scale));
  return r;
}

}  // namespace bnfold
