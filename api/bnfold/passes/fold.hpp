// Folding BatchNormalization: what `bnfold fold` does, as a library call
// (analysis/verify_fold.hpp proves the result computes the same function).
#pragma once

#include "bnfold/graph/export.hpp"

#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"
#include "bnfold/passes/fold_report.hpp"
#include "bnfold/passes/pipeline.hpp"

namespace bnfold BNFOLD_API {

// Folds every BatchNormalization that can be folded exactly, in place, and
// reports each BN: folded into which node, or kept and why.
FoldReport fold_batchnorms(Graph& graph, const PipelineOptions& options = {});

}  // namespace bnfold
