// Where the samples of a data set live, so that a batch reads only its own
// samples: a contiguous run of bytes in a file (.npy, a stored .npz member:
// read with one seek), a source decoded whole when needed (a deflated .npz
// member, an image, a .pb), or memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bnfold/graph/tensor.hpp"

namespace bnfold::data {

struct Source {
  enum class Kind { Memory, Contiguous, Decoded };
  Kind kind = Kind::Memory;
  std::string what;           // names it in errors: "data/x.npy", "d.npz: array 'x'"
  int64_t first = 0;          // index of its first sample in the data set
  int64_t count = 0;          // samples
  std::string path;           // Contiguous: the file, with the data at `offset`
  size_t offset = 0;
  std::shared_ptr<const std::string> memory;  // Memory: count samples back to back
  std::function<Tensor()> decode;             // Decoded: all its samples ([count, ...] or one sample)
};

}  // namespace bnfold::data
