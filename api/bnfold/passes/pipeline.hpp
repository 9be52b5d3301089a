// The pass pipeline: one explicit, ordered list with the reason for each
// entry, and a plain name -> factory table for `bnfold fold --passes`.
#pragma once

#include "bnfold/graph/export.hpp"

#include <memory>
#include <string>
#include <vector>

#include "bnfold/passes/pass.hpp"

namespace bnfold BNFOLD_API {

struct PassInfo {
  const char* name;
  const char* why;  // its place in the default pipeline
};

// The default pipeline, in order.
const std::vector<PassInfo>& default_pipeline();
// A pass by name; throws bnfold::Error listing the known names.
std::unique_ptr<Pass> make_pass(const std::string& name);

struct PipelineOptions {
  std::vector<std::string> passes;  // empty: the default pipeline
  bool verify_each = false;         // Graph::verify() after every pass
};

// Runs the passes in order; returns the names of those that changed the graph.
std::vector<std::string> run_pipeline(Graph& graph, const PipelineOptions& options, FoldReport* report);

}  // namespace bnfold
