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

struct ZipMember {
  std::string name;  // as stored ("x.npy")
  uint16_t method = 0;
  size_t data_at = 0, csize = 0, usize = 0;
};
// The members of a zip file from its local headers; the data is not read.
std::vector<ZipMember> zip_members(const std::string& path);
// The first `limit` bytes of a member (0: all of it), inflated when deflated.
std::string member_bytes(const std::string& path, const ZipMember& m, size_t limit = 0);
// n bytes at offset; throws naming the file when it is shorter.
std::string read_range(const std::string& path, size_t offset, size_t n);
size_t file_size(const std::string& path);
// Little-endian fields of zip headers.
uint32_t le32(const std::string& bytes, size_t at);
uint16_t le16(const std::string& bytes, size_t at);

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
