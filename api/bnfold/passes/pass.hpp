// A graph pass: a small class with a name and `bool run(Graph&)` returning
// whether it changed the graph. A pass that does not apply returns false; it
// never throws for that. Passes that handle BatchNormalization write what they
// did (or why not) into the FoldReport.
#pragma once

#include "bnfold/graph/export.hpp"

#include <memory>
#include <string>
#include <vector>

#include "bnfold/graph/batchnorm.hpp"
#include "bnfold/graph/graph.hpp"
#include "bnfold/passes/fold_report.hpp"

namespace bnfold BNFOLD_API {

class Pass {
 public:
  virtual ~Pass() = default;
  virtual const char* name() const = 0;
  virtual bool run(Graph& graph) = 0;
  void set_report(FoldReport* report) { report_ = report; }

 protected:
  // Applies `rewrite` to the nodes in topological order until none changes
  // the graph. Starts over after every change, because a rewrite may erase
  // nodes that a snapshot of the order still holds. Returns whether anything
  // changed.
  template <typename F>
  static bool rewrite_until_stable(Graph& g, F&& rewrite) {
    bool changed = false;
    for (bool again = true; again;) {
      again = false;
      for (Node* n : g.topological_order()) {
        if (rewrite(n)) {
          again = changed = true;
          break;
        }
      }
    }
    return changed;
  }

  // The BatchNormalization nodes (graph/batchnorm.hpp's BatchNorm), producers first.
  static std::vector<Node*> batchnorm_nodes(const Graph& g) {
    std::vector<Node*> out;
    for (const BatchNorm& bn : batchnorms(g)) out.push_back(&bn.node());
    return out;
  }

  // Report helpers; the report is optional.
  void note(const std::string& bn_output, const std::string& why) {
    if (report_) report_->note(bn_output, why);
  }
  void record(const std::string& bn_output, FoldAction action, const Node* target = nullptr) {
    if (!report_) return;
    BnFoldRow& row = report_->row(bn_output);
    row.action = action;
    row.target_node = target;
    row.target = target ? node_name(*target) : "";
    if (action != FoldAction::ScaleShift) row.reason.clear();
  }

  FoldReport* report_ = nullptr;  // may be null
};

}  // namespace bnfold
