// Reading and writing ONNX models. Protobuf stays behind this header: callers
// see only bnfold::Graph.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "bnfold/graph/graph.hpp"

namespace bnfold BNFOLD_API {

// Which ops bnfold has kernels for (opset of the model's default domain).
using KernelLookup = bool (*)(const std::string& op, int64_t opset);

struct ImportOptions {
  // Run ONNX's shape inference to fill in intermediate dtypes and shapes:
  // only on models whose ops all have a kernel by `has_kernel` (libonnx 1.12's
  // inference functions index unchecked dims on malformed nodes, fuzzing found
  // MaxUnpool; and a model with an op bnfold cannot run gains nothing from it).
  bool infer_shapes = true;
  // Required with infer_shapes. load_onnx (bnfold/ops/load.hpp) sets it to
  // the op table; the graph layer itself knows no ops.
  KernelLookup has_kernel = nullptr;
  // Protobuf cannot parse a message over 2 GB; larger files are refused with a
  // clear message (ONNX's own loader returns an empty model instead).
  uint64_t max_model_bytes = 0x7fffffffu;
};

// Imports a model file. External data is resolved relative to its folder.
// Throws bnfold::Error whose message starts with the path. Programs call
// load_onnx (bnfold/ops/load.hpp), which gives the op table as has_kernel.
std::unique_ptr<Graph> import_onnx(const std::string& path, const ImportOptions& options);
// Imports a model held in memory; `name` is used in messages and `base_dir`
// (may be empty: then external data is refused) for external data.
std::unique_ptr<Graph> import_onnx_bytes(const void* data, size_t size, const std::string& name,
                                         const std::string& base_dir, const ImportOptions& options);

struct ExportOptions {
  // Tensors of at least this many bytes go to `external_file` when set.
  std::string external_file;  // a plain file name next to the model, e.g. "model.onnx.data"
  size_t external_threshold = 1024;
  // Run libonnx's checker on what is written (the model as serialized, whose
  // size the file must have; with external data, the file and its side file);
  // throws bnfold::Error if it objects, and nothing is left at the path.
  bool check = true;
};

// Writes the graph as an ONNX model (atomically: a temporary file, then rename).
void save_onnx(const Graph& graph, const std::string& path, const ExportOptions& options = {});
// The serialized model, all tensors inline.
std::string serialize_onnx(const Graph& graph);

// A deep copy of a graph (through the ONNX message export builds, in memory).
std::unique_ptr<Graph> clone_graph(const Graph& graph);

// Runs libonnx's checker on a model file; throws bnfold::Error with its message.
void check_onnx_file(const std::string& path);
// The same for a file written under another name (messages name `name`).
void check_onnx_file(const std::string& path, const std::string& name);

}  // namespace bnfold
