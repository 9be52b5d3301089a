// A graph pass: a small class with a name and `bool run(Graph&)` returning
// whether it changed the graph. A pass that does not apply returns false; it
// never throws for that. Passes that handle BatchNormalization write what they
// did (or why not) into the FoldReport.
#pragma once

#include "graph/export.hpp"

#include <memory>
#include <string>

#include "graph/graph.hpp"
#include "passes/fold_report.hpp"

namespace bnfold BNFOLD_API {

class Pass {
 public:
  virtual ~Pass() = default;
  virtual const char* name() const = 0;
  virtual bool run(Graph& graph) = 0;
  void set_report(FoldReport* report) { report_ = report; }

 protected:
  // Report helpers; the report is optional.
  void note(const std::string& bn_output, const std::string& why) {
    if (report_) report_->note(bn_output, why);
  }
  void record(const std::string& bn_output, const std::string& action, const std::string& target = "") {
    if (!report_) return;
    BnFoldRow& row = report_->row(bn_output);
    row.action = action;
    row.target = target;
    if (action != "scale-shift") row.reason.clear();
  }

  FoldReport* report_ = nullptr;  // may be null
};

}  // namespace bnfold
