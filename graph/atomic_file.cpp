#include "graph/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "graph/check.hpp"

namespace bnfold {

namespace fs = std::filesystem;

void check_writable(const std::string& path) {
  BNFOLD_CHECK(!path.empty(), ErrorCode::InvalidArgument, "no file name to write to");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // A symlink to a regular file is replaced by the file (rename does not follow it).
    struct stat target {};
    const bool to_regular = S_ISLNK(st.st_mode) && ::stat(path.c_str(), &target) == 0 && S_ISREG(target.st_mode);
    BNFOLD_CHECK(to_regular, ErrorCode::InvalidArgument, "{}: exists and is not a regular file; refusing to replace it",
                 path);
  }
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  BNFOLD_CHECK(dir.empty() || fs::is_directory(dir, ec), ErrorCode::Io, "{}: the folder {} does not exist", path,
               dir.string());
}

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  check_writable(path);
  std::string pattern = path + ".tmp.XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());  // O_CREAT | O_EXCL: never an existing file or symlink
  BNFOLD_CHECK(fd_ >= 0, ErrorCode::Io, "{}: cannot create a file there: {}", path, std::strerror(errno));
  temp_ = name.data();
  ::fchmod(fd_, 0644);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    BNFOLD_CHECK(n > 0, ErrorCode::Io, "{}: write failed: {}", path_, n < 0 ? std::strerror(errno) : "no space");
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  BNFOLD_CHECK(::fsync(fd_) == 0, ErrorCode::Io, "{}: cannot flush to disk: {}", path_, std::strerror(errno));
  const int fd = fd_;
  fd_ = -1;
  BNFOLD_CHECK(::close(fd) == 0, ErrorCode::Io, "{}: write failed: {}", path_, std::strerror(errno));
  BNFOLD_CHECK(::rename(temp_.c_str(), path_.c_str()) == 0, ErrorCode::Io, "{}: cannot move the written file into place: {}",
               path_, std::strerror(errno));
  committed_ = true;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace bnfold
