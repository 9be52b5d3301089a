// Zip files as .npz stores arrays in them: the members from their local
// headers (nothing is read or inflated until asked), a member's bytes, and
// the .npy header of a file or a member, checked against its size. The one
// owner of the data-file formats with tensor_io (.npy, .pb): data sets
// (analysis/) read through these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bnfold/graph/tensor_io.hpp"

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

// The header of a .npy file, and of a .npy member of a zip ('what' names it).
NpyHeader npy_file_header(const std::string& path);
NpyHeader npz_member_header(const std::string& path, const ZipMember& m, const std::string& what);

}  // namespace bnfold::data
