#include "bnfold/passes/fold.hpp"

#include "passes/layer_folds.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "bnfold/graph/batchnorm.hpp"
#include "bnfold/graph/folded_bns.hpp"

namespace bnfold {

namespace {

// The parameters of an inference BN with constant ones (false otherwise).
bool snapshot(const Node& n, FoldedBn* f) {
  const std::optional<BatchNorm> bn = BatchNorm::of(n);
  if (!bn || !bn->inference_with_constants()) return false;
  std::vector<float>* dst[] = {&f->gamma, &f->beta, &f->mean, &f->var};
  for (size_t i = 1; i <= 4; ++i) {
    const Value* v = n.input(i);
    if (!v || !v->is_constant()) return false;
    for (int64_t c = 0; c < v->data().numel(); ++c) dst[i - 1]->push_back(static_cast<float>(v->data().value_at(c)));
  }
  f->bn = node_name(n);
  f->value = n.input(0)->name();
  f->epsilon = bn->epsilon();
  const size_t c = f->mean.size();
  return c > 0 && f->gamma.size() == c && f->beta.size() == c && f->var.size() == c;
}

// Where each BN that the passes removed can still be measured in the folded
// graph: its input, untouched (folded forward, scale-shift), or the layer
// output that now computes its output (folded into the producer, which
// keeps the BN output's name). Records a later pass invalidated are dropped.
void record_folded(Graph& graph, FoldReport& report, std::map<std::string, FoldedBn> before) {
  std::vector<FoldedBn> annex = folded_bns(graph);  // a model folded before keeps its records
  std::set<std::string> present;
  for (const BatchNorm& bn : batchnorms(graph)) present.insert(bn.name());
  for (const std::string& key : report.order()) {
    auto it = before.find(key);
    if (it == before.end() || present.count(it->second.bn)) continue;
    FoldedBn f = std::move(it->second);
    const BnFoldRow* row = report.find(key);
    if (row->action == FoldAction::Folded) {
      f.value = key;
      f.output = true;
    }
    const Value* v = graph.find_value(f.value);
    if (!v || v->is_constant() || (f.output && !is_foldable_layer(v->producer()))) continue;
    if (f.output && std::find(f.gamma.begin(), f.gamma.end(), 0.0f) != f.gamma.end()) continue;  // not invertible
    annex.push_back(std::move(f));
  }
  set_folded_bns(graph, annex);
}

}  // namespace

FoldReport fold_batchnorms(Graph& graph, const PipelineOptions& options) {
  FoldReport report;
  std::map<std::string, FoldedBn> before;  // by BN output name, as the report
  // One row per BN, with its neighbours as they are before any pass.
  for (const BatchNorm& view : batchnorms(graph)) {
    const Node* n = &view.node();
    BnFoldRow& row = report.row(n->output(0)->name());
    row.bn = node_name(*n);
    const Value* x = n->input(0);
    row.producer_op = x->producer() ? x->producer()->op_type() : x->has_data() ? "constant" : "graph input";
    for (const Use& u : n->output(0)->uses())
      row.consumer_ops += (row.consumer_ops.empty() ? "" : ",") + u.node->op_type();
    if (n->output(0)->is_graph_output()) row.consumer_ops += row.consumer_ops.empty() ? "(output)" : ",(output)";
    if (FoldedBn f; snapshot(*n, &f)) before[n->output(0)->name()] = std::move(f);
  }
  run_pipeline(graph, options, &report);
  graph.verify();
  // The report describes the graph as written: a target a later pass
  // replaced is no longer one to point at, and a scale-shift that
  // fold-affine-into-producer folded into its layer is a fold.
  std::set<const Node*> live;
  for (const Node* n : graph.nodes()) live.insert(n);
  for (const std::string& key : report.order()) {
    BnFoldRow* row = report.find(key);
    if (row->target_node && !live.count(row->target_node)) row->target_node = nullptr;
    if (row->action != FoldAction::ScaleShift) continue;
    const Value* v = graph.find_value(key);
    const Node* p = v ? v->producer() : nullptr;
    if (is_foldable_layer(p)) {
      row->action = FoldAction::Folded;
      row->target_node = p;
      row->target = node_name(*p);
      row->reason.clear();
    }
  }
  record_folded(graph, report, std::move(before));
  return report;
}

}  // namespace bnfold
