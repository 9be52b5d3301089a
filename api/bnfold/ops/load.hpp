// Loading ONNX models: the graph layer's import with the op table telling it
// which ops bnfold has kernels for (ONNX's shape inference runs only on models
// whose ops all have one). What programs call; bnfold/graph/onnx_io.hpp has
// saving, cloning and the import options.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstddef>
#include <memory>
#include <string>

#include "bnfold/graph/graph.hpp"
#include "bnfold/graph/onnx_io.hpp"

namespace bnfold BNFOLD_API {

// Loads a model file. External data is resolved relative to its folder.
// Throws bnfold::Error whose message starts with the path.
std::unique_ptr<Graph> load_onnx(const std::string& path, const ImportOptions& options = {});
// Loads a model held in memory; `name` is used in messages and `base_dir`
// (may be empty: then external data is refused) for external data.
std::unique_ptr<Graph> load_onnx_bytes(const void* data, size_t size, const std::string& name,
                                       const std::string& base_dir = "", const ImportOptions& options = {});

}  // namespace bnfold
