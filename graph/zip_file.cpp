#include "graph/zip_file.hpp"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "bnfold/graph/memory.hpp"
#include "bnfold/graph/shape.hpp"
#include "graph/check.hpp"

namespace bnfold::data {


uint32_t le32(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}
uint16_t le16(const std::string& b, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1]) << 8);
}

size_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  BNFOLD_CHECK(!ec, ErrorCode::Io, "{}: cannot read its size: {}", path, ec.message());
  return static_cast<size_t>(n);
}

std::string read_range(const std::string& path, size_t offset, size_t n) {
  std::ifstream in(path, std::ios::binary);
  BNFOLD_CHECK(in.good(), ErrorCode::Io, "{}: cannot open for reading", path);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string bytes(n, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  BNFOLD_CHECK(static_cast<size_t>(in.gcount()) == n, ErrorCode::InvalidArgument,
               "{}: truncated: {} bytes expected at offset {}, {} there", path, n, offset, in.gcount());
  return bytes;
}

std::vector<ZipMember> zip_members(const std::string& path) {
  const size_t size = file_size(path);
  std::vector<ZipMember> out;
  size_t at = 0;
  while (at + 30 <= size) {
    const std::string h = read_range(path, at, 30);
    if (le32(h, 0) != 0x04034b50) break;
    const uint16_t flags = le16(h, 6), name_len = le16(h, 26), extra_len = le16(h, 28);
    ZipMember m;
    m.method = le16(h, 8);
    m.csize = le32(h, 18);
    m.usize = le32(h, 22);
    BNFOLD_CHECK(at + 30 + name_len <= size, ErrorCode::InvalidArgument, "{}: truncated zip header", path);
    m.name = read_range(path, at + 30, name_len);
    BNFOLD_CHECK((flags & 0x8) == 0 && m.csize != 0xffffffffu, ErrorCode::Unsupported,
                 "{}: member '{}' uses a zip feature bnfold does not read (streamed or zip64)", path, m.name);
    m.data_at = at + 30 + name_len + extra_len;
    BNFOLD_CHECK(m.data_at + m.csize <= size, ErrorCode::InvalidArgument, "{}: truncated zip member '{}'", path,
                 m.name);
    BNFOLD_CHECK(m.method == 0 || m.method == 8, ErrorCode::Unsupported, "{}: member '{}' uses zip method {}", path,
                 m.name, m.method);
    BNFOLD_CHECK(m.method == 8 || m.csize == m.usize, ErrorCode::InvalidArgument,
                 "{}: stored member '{}' has sizes {} and {}", path, m.name, m.csize, m.usize);
    out.push_back(m);
    at = m.data_at + m.csize;
  }
  BNFOLD_CHECK(!out.empty(), ErrorCode::InvalidArgument, "{}: not an .npz file (no zip members found)", path);
  return out;
}

std::string member_bytes(const std::string& path, const ZipMember& m, size_t limit) {
  const size_t want = limit == 0 ? m.usize : std::min(limit, m.usize);
  if (m.method == 0) return read_range(path, m.data_at, want);
  // A zip bomb is refused before its bytes are: the memory limit applies.
  BNFOLD_CHECK(want <= memory_limit(), ErrorCode::ResourceLimit,
               "{}: member '{}' inflates to {} bytes, over the memory limit of {} bytes", path, m.name, want,
               memory_limit());
  // A prefix (a header) needs only a prefix of the compressed bytes; deflate
  // never expands more than 1032:1, so 64 KB of input is ample for a header.
  const size_t in_bytes = limit == 0 ? m.csize : std::min(m.csize, limit + 65536);
  const std::string packed = read_range(path, m.data_at, in_bytes);
  std::string out(want, '\0');
  z_stream z{};
  inflateInit2(&z, -MAX_WBITS);  // raw deflate, as zip stores it
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = static_cast<uInt>(packed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(want);
  const int rc = inflate(&z, limit == 0 ? Z_FINISH : Z_SYNC_FLUSH);
  const size_t got = want - z.avail_out;
  inflateEnd(&z);
  BNFOLD_CHECK((limit == 0 && rc == Z_STREAM_END) || (limit != 0 && (rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR) && got == want),
               ErrorCode::InvalidArgument, "{}: cannot inflate member '{}'", path, m.name);
  return out;
}

// The header of a .npy file, checked against the file's size.
NpyHeader npy_file_header(const std::string& path) {
  const size_t size = file_size(path);
  const std::string prefix = read_range(path, 0, std::min<size_t>(size, 12));
  const size_t header = npy_header_size(prefix);
  const NpyHeader h = parse_npy_header(read_range(path, 0, std::min(size, header)), path);
  BNFOLD_CHECK(size - h.data_at == h.nbytes, ErrorCode::InvalidArgument, "{}: holds {} data bytes but {} needs {}",
               path, size - h.data_at, Shape::of(h.dims).str(), h.nbytes);
  return h;
}

NpyHeader npz_member_header(const std::string& path, const ZipMember& m, const std::string& what) {
  const size_t header = npy_header_size(member_bytes(path, m, 12));
  const NpyHeader h = parse_npy_header(member_bytes(path, m, header), what);
  BNFOLD_CHECK(m.usize - std::min(m.usize, h.data_at) == h.nbytes, ErrorCode::InvalidArgument,
               "{}: holds {} data bytes but {} needs {}", what, m.usize - std::min(m.usize, h.data_at),
               Shape::of(h.dims).str(), h.nbytes);
  return h;
}

}  // namespace bnfold::data

namespace bnfold {

// From an .npz file's bytes (labels files, the fuzzer): the same zip rules as zip_members.
std::vector<std::pair<std::string, Tensor>> parse_npz_named(const std::string& zip, const std::string& path) {
  std::vector<std::pair<std::string, Tensor>> out;
  size_t at = 0;
  while (at + 30 <= zip.size() && data::le32(zip, at) == 0x04034b50) {
    const uint16_t flags = data::le16(zip, at + 6), method = data::le16(zip, at + 8);
    uint32_t csize = data::le32(zip, at + 18);
    const uint32_t usize = data::le32(zip, at + 22);
    const uint16_t name_len = data::le16(zip, at + 26), extra_len = data::le16(zip, at + 28);
    const std::string name = zip.substr(at + 30, name_len);
    BNFOLD_CHECK((flags & 0x8) == 0 && csize != 0xffffffffu, ErrorCode::Unsupported,
                 "{}: member '{}' uses a zip feature bnfold does not read (streamed or zip64)", path, name);
    const size_t data_at = at + 30 + name_len + extra_len;
    BNFOLD_CHECK(data_at + csize <= zip.size(), ErrorCode::InvalidArgument, "{}: truncated zip member '{}'", path,
                 name);
    std::string npy;
    if (method == 0) {
      npy = zip.substr(data_at, csize);
    } else {
      BNFOLD_CHECK(method == 8, ErrorCode::Unsupported, "{}: member '{}' uses zip method {}", path, name, method);
      // A zip bomb is refused before its bytes are: the memory limit applies.
      BNFOLD_CHECK(usize <= memory_limit(), ErrorCode::ResourceLimit,
                   "{}: member '{}' inflates to {} bytes, over the memory limit of {} bytes", path, name, usize,
                   memory_limit());
      npy.resize(usize);
      z_stream z{};
      inflateInit2(&z, -MAX_WBITS);  // raw deflate, as zip stores it
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zip.data() + data_at));
      z.avail_in = csize;
      z.next_out = reinterpret_cast<Bytef*>(npy.data());
      z.avail_out = usize;
      const int rc = inflate(&z, Z_FINISH);
      inflateEnd(&z);
      BNFOLD_CHECK(rc == Z_STREAM_END, ErrorCode::InvalidArgument, "{}: cannot inflate member '{}'", path, name);
    }
    try {
      const std::string key = name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0
                                  ? name.substr(0, name.size() - 4)
                                  : name;
      out.emplace_back(key, parse_npy(npy, path + ": member '" + name + "'"));
    } catch (const Error& e) {
      failf(e.code(), "{}", e.what());
    }
    at = data_at + csize;
  }
  BNFOLD_CHECK(!out.empty(), ErrorCode::InvalidArgument, "{}: not an .npz file (no zip members found)", path);
  return out;
}

std::vector<Tensor> parse_npz(const std::string& zip, const std::string& path) {
  std::vector<Tensor> out;
  for (auto& [name, t] : parse_npz_named(zip, path)) out.push_back(std::move(t));
  return out;
}

}  // namespace bnfold
