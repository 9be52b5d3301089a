// Internal: tensors stored outside the .onnx file. libonnx 1.12 cannot resolve
// them in C++ and its checker accepts "../" locations (CVE-2022-25882), so
// bnfold resolves them itself, with these rules:
//   1. the location is relative, non-empty, and has no ".." component;
//   2. the canonical path (symlinks resolved) lies inside the model's folder;
//   3. offset + length lies within the file, and length equals the tensor's size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace bnfold {

struct ExternalDataRef {
  std::string location;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

// Reads `nbytes` bytes for tensor `what` into dst, enforcing the rules above.
// With dst == nullptr it only checks the rules and the bounds (done before a
// caller allocates). model_dir empty means the model came from memory:
// external data is refused.
void read_external_data(const std::string& model_dir, const ExternalDataRef& ref, void* dst,
                        uint64_t nbytes, const std::string& what);

// Checks that `file_name` is a plain file name for writing external data next
// to a model (no folder part, no ".."); throws otherwise.
void check_external_file_name(const std::string& file_name);

}  // namespace bnfold
