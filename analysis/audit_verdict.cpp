// The audit's judgement from its measurements: from which batch size the two
// modes agree, the BNs to blame, and the verdict in plain words.
#include <algorithm>

#include <fmt/format.h>

#include "analysis/audit_phases.hpp"

namespace bnfold {

namespace {

std::string percent(double v) { return fmt::format("{:.1f}%", 100 * v); }

}  // namespace

void judge_audit(AuditReport& r, double tolerance) {
  const int64_t smallest = r.batch_sizes.front();
  // From which batch size on do the modes agree (every larger size too)?
  for (auto it = r.batch_sizes.rbegin(); it != r.batch_sizes.rend(); ++it) {
    bool ok = true;
    for (const auto& d : r.divergence) ok &= d.batch != *it || d.rel_l2 <= tolerance;
    if (!ok) break;
    r.agree_from_batch = *it;
  }

  // The culprits, by a rule the report states: with class scores, the BNs
  // that alone change the answer (the top class, or accuracy with labels) for
  // more than 1% of samples; otherwise those that alone move the outputs past
  // the tolerance. When none does alone but the whole model does, the three
  // the ranking puts first.
  double worst_at_smallest = 0;
  for (const auto& d : r.divergence)
    if (d.batch == smallest) worst_at_smallest = std::max(worst_at_smallest, d.rel_l2);
  const bool scores = !r.scores_output.empty();
  const double share = 0.01;
  for (const auto& a : r.ablation) {
    const bool matters = scores ? 1 - a.top1_agreement > share ||
                                      (r.labeled && r.ablation_accuracy_inference - a.accuracy > share)
                                : a.rel_l2 > tolerance;
    if (matters) r.culprits.push_back(a.bn);
  }
  const bool fallback = r.culprits.empty() && worst_at_smallest > tolerance;
  if (fallback)
    for (size_t i = 0; i < r.ablation.size() && i < 3; ++i) r.culprits.push_back(r.ablation[i].bn);
  r.blame_rule =
      scores ? fmt::format("each BN alone in train mode at batch {}, ranked by {}; to blame when it changes the top "
                           "class of more than 1% of samples{}",
                           smallest, r.labeled ? "the accuracy left" : "top-1 agreement",
                           r.labeled ? " or lowers accuracy by more than 1 point" : "")
             : fmt::format("each BN alone in train mode at batch {}, ranked by the output change (relative L2); to "
                           "blame above the tolerance {:g}",
                           smallest, tolerance);
  if (fallback && !r.culprits.empty()) r.blame_rule += "; none does alone, so the first three";

  // The verdict, in plain words; the first line answers the question.
  double worst_inv = 0;
  for (const auto& [b, v] : r.invariance) worst_inv = std::max(worst_inv, v);
  const bool invariant = worst_inv <= 1e-4 * std::max(1.0, r.fold_scale);
  const BatchAccuracy& acc1 = r.accuracy.front();
  const bool train_ok = worst_at_smallest <= tolerance;
  std::string first;
  if (invariant)
    first = fmt::format("Safe to serve at batch {} in inference mode (a sample's output does not depend on its batch{}).",
                        smallest, r.labeled ? ", accuracy " + percent(r.accuracy_inference) : "");
  else
    first = fmt::format("Not safe even in inference mode: a sample's output changes with its batch by up to {:.3g}.",
                        worst_inv);
  std::string train = fmt::format(" Served in train mode (batch statistics) at batch {}, ", smallest);
  if (train_ok) {
    train += fmt::format("it also agrees (relative L2 {:.3g} <= {:g}).", worst_at_smallest, tolerance);
  } else if (r.labeled) {
    train += fmt::format("accuracy falls to {} (from {}); top-1 agrees with inference for {} of samples.",
                         percent(acc1.batch_stats_top1), percent(acc1.inference_top1), percent(acc1.top1_agreement));
  } else if (acc1.top1_agreement >= 0) {
    train += fmt::format("the top-1 class agrees with inference for only {} of samples (relative L2 {:.3g}).",
                         percent(acc1.top1_agreement), worst_at_smallest);
  } else {
    train += fmt::format("the outputs differ by {:.3g} relative L2 (tolerance {:g}).", worst_at_smallest, tolerance);
  }
  r.verdict.push_back(first + train);
  if (!r.culprits.empty()) {
    const Ablation* top = nullptr;
    for (const auto& a : r.ablation)
      if (a.bn == r.culprits.front()) top = &a;
    std::string line = fmt::format(
        "The layer{} to blame: {}. Alone in train mode at batch {}, {} changes the outputs by {:.3g} relative L2{}{}.",
        r.culprits.size() == 1 ? "" : "s", fmt::join(r.culprits, ", "), smallest, top->bn, top->rel_l2,
        top->top1_agreement >= 0
            ? fmt::format(" (top-1 agreement {}{})", percent(top->top1_agreement),
                          top->accuracy >= 0 ? ", accuracy " + percent(top->accuracy) : "")
            : "",
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
                                    r.agree_from_batch, tolerance));
  else
    r.verdict.push_back(fmt::format("At none of the tested batch sizes ({}) do the modes agree within {:g} relative L2.",
                                    fmt::join(r.batch_sizes, ", "), tolerance));
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
                                    r.skipped_batch_sizes.size() == 1 ? "" : "s", sizes_text, r.samples));
  }
}

}  // namespace bnfold
