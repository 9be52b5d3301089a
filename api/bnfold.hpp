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
#include "graph/error.hpp"
#include "graph/graph.hpp"
#include "graph/inspect.hpp"
#include "graph/onnx_io.hpp"
#include "graph/tensor_io.hpp"
#include "passes/fold.hpp"
#include "analysis/bn_analysis.hpp"
#include "runtime/session.hpp"
#include "runtime/tensor_tools.hpp"
