#include "passes/fold.hpp"

#include "passes/layer_folds.hpp"

#include <set>

namespace bnfold {

FoldReport fold_batchnorms(Graph& graph, const PipelineOptions& options) {
  FoldReport report;
  // One row per BN, with its neighbours as they are before any pass.
  for (const Node* n : graph.topological_order()) {
    if (n->op_type() != "BatchNormalization" || !n->domain().empty() || !n->output(0)) continue;
    BnFoldRow& row = report.row(n->output(0)->name());
    row.bn = node_name(*n);
    const Value* x = n->input(0);
    row.producer_op = x->producer() ? x->producer()->op_type() : x->has_data() ? "constant" : "graph input";
    for (const Use& u : n->output(0)->uses())
      row.consumer_ops += (row.consumer_ops.empty() ? "" : ",") + u.node->op_type();
    if (n->output(0)->is_graph_output()) row.consumer_ops += row.consumer_ops.empty() ? "(output)" : ",(output)";
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
  return report;
}

}  // namespace bnfold
