#include "graph/external_data.hpp"

#include <filesystem>
#include <fstream>

#include "graph/check.hpp"

namespace fs = std::filesystem;

namespace bnfold {

namespace {

bool inside(const fs::path& dir, const fs::path& file) {
  auto d = dir.begin(), f = file.begin();
  for (; d != dir.end(); ++d, ++f) {
    if (d->empty()) continue;  // trailing separator
    if (f == file.end() || *d != *f) return false;
  }
  return f != file.end();
}

}  // namespace

void read_external_data(const std::string& model_dir, const ExternalDataRef& ref, void* dst,
                        uint64_t nbytes, const std::string& what) {
  BNFOLD_CHECK(!model_dir.empty(), ErrorCode::InvalidArgument,
               "{} is stored in external file '{}', which needs the model's folder: load the "
               "model from its path",
               what, ref.location);
  BNFOLD_CHECK(!ref.location.empty(), ErrorCode::InvalidModel,
               "{} uses external data without a 'location'", what);
  const fs::path loc(ref.location);
  BNFOLD_CHECK(loc.is_relative() && !loc.has_root_name() && !loc.has_root_directory(),
               ErrorCode::InvalidModel,
               "{}: external data location '{}' must be a path relative to the model's folder",
               what, ref.location);
  for (const auto& part : loc)
    BNFOLD_CHECK(part != "..", ErrorCode::InvalidModel,
                 "{}: external data location '{}' must not contain '..'", what, ref.location);

  std::error_code ec;
  const fs::path dir = fs::canonical(fs::path(model_dir), ec);
  BNFOLD_CHECK(!ec, ErrorCode::Io, "{}: cannot resolve the model folder '{}': {}", what, model_dir,
               ec.message());
  const fs::path file = fs::canonical(dir / loc, ec);
  BNFOLD_CHECK(!ec, ErrorCode::Io, "{}: external data file '{}' not found in '{}'", what,
               ref.location, dir.string());
  BNFOLD_CHECK(inside(dir, file), ErrorCode::InvalidModel,
               "{}: external data file '{}' resolves to '{}', outside the model's folder '{}'",
               what, ref.location, file.string(), dir.string());
  BNFOLD_CHECK(fs::is_regular_file(file, ec), ErrorCode::InvalidModel,
               "{}: external data '{}' is not a regular file", what, ref.location);
  const uint64_t size = fs::file_size(file, ec);
  BNFOLD_CHECK(!ec, ErrorCode::Io, "{}: cannot stat '{}': {}", what, file.string(), ec.message());

  BNFOLD_CHECK(ref.offset <= size, ErrorCode::InvalidModel,
               "{}: external data offset {} is past the end of '{}' ({} bytes)", what, ref.offset,
               ref.location, size);
  if (ref.length) {
    BNFOLD_CHECK(*ref.length == nbytes, ErrorCode::InvalidModel,
                 "{}: external data length {} does not match the tensor's {} bytes", what,
                 *ref.length, nbytes);
  }
  BNFOLD_CHECK(size - ref.offset >= nbytes, ErrorCode::InvalidModel,
               "{}: external data runs past the end of '{}': needs bytes {}..{} but the file has "
               "{} bytes",
               what, ref.location, ref.offset, ref.offset + nbytes, size);

  if (dst == nullptr) return;
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(ref.offset));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(nbytes));
  BNFOLD_CHECK(in.good() || nbytes == 0, ErrorCode::Io, "{}: failed reading {} bytes from '{}'",
               what, nbytes, file.string());
}

void check_external_file_name(const std::string& file_name) {
  const fs::path p(file_name);
  BNFOLD_CHECK(!file_name.empty() && p.filename() == p && file_name != "." && file_name != "..",
               ErrorCode::InvalidArgument,
               "external data file '{}' must be a plain file name in the model's folder",
               file_name);
}

}  // namespace bnfold
