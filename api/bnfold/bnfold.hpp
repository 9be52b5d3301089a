// bnfold's C++ API in one include: <bnfold/bnfold.hpp>.
//
//   auto graph = bnfold::load_onnx("model.onnx");               // graph/onnx_io.hpp
//   bnfold::FoldReport report = bnfold::fold_batchnorms(*graph);  // passes/fold.hpp
//   bnfold::save_onnx(*graph, "folded.onnx");
//   bnfold::Session session(std::move(graph), {/*threads=*/2});   // runtime/session.hpp
//   auto outputs = session.run({{"input", tensor}});
//
// Errors are thrown as bnfold::Error (graph/error.hpp). Thread-safety: a
// Session may be run from several threads at once; a Graph is not
// thread-safe to modify; everything else is plain values.
#pragma once

#include "bnfold/version.hpp"
#include "bnfold/graph/error.hpp"
#include "bnfold/graph/graph.hpp"
#include "bnfold/graph/inspect.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/graph/tensor_io.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/analysis/bn_analysis.hpp"
#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
