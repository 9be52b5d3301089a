#include "bnfold/graph/atomic_file.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <filesystem>
#include <vector>

#include "graph/check.hpp"

namespace bnfold {

namespace fs = std::filesystem;

namespace {

// The temporaries being written now, for a signal handler to remove: fixed
// slots of plain bytes and lock-free atomics, as a handler may touch nothing
// else. More than kSlots writes at once: the rest are not cleaned on a signal.
constexpr int kSlots = 64;
constexpr size_t kPathBytes = 4096;
struct Slot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 a live temporary
  char path[kPathBytes];
};
Slot g_slots[kSlots];

int claim_slot(const std::string& temp) {
  if (temp.size() >= kPathBytes) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_slots[i].path, temp.c_str(), temp.size() + 1);
      g_slots[i].state.store(2, std::memory_order_release);
      return i;
    }
  }
  return -1;
}

void release_slot(int i) {
  if (i >= 0) g_slots[i].state.store(0, std::memory_order_release);
}

extern "C" void remove_temporaries_and_die(int sig) {
  remove_pending_temporaries();
  ::signal(sig, SIG_DFL);
  ::raise(sig);  // die of the same signal, as the process would have
}

// SIGINT, SIGTERM and SIGHUP end a process that has not chosen otherwise; only
// there (disposition still the default) is the handler installed, so a
// program's own handlers (Python's SIGINT) are left alone.
void install_cleanup_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      if (::sigaction(sig, nullptr, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
      struct sigaction sa {};
      sa.sa_handler = remove_temporaries_and_die;
      sigemptyset(&sa.sa_mask);
      ::sigaction(sig, &sa, nullptr);
    }
  });
}

}  // namespace

void remove_pending_temporaries() noexcept {
  for (Slot& s : g_slots)
    if (s.state.load(std::memory_order_acquire) == 2) ::unlink(s.path);
}

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
  install_cleanup_once();
  std::string pattern = path + ".tmp.XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  // The temporary is created and listed for the handler with the three
  // signals held back: one that landed between the two would leave it behind.
  sigset_t held, before;
  sigemptyset(&held);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&held, sig);
  ::pthread_sigmask(SIG_BLOCK, &held, &before);
  fd_ = ::mkstemp(name.data());  // O_CREAT | O_EXCL: never an existing file or symlink
  const int err = errno;
  if (fd_ >= 0) slot_ = claim_slot(name.data());
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  BNFOLD_CHECK(fd_ >= 0, ErrorCode::Io, "{}: cannot create a file there: {}", path, std::strerror(err));
  temp_ = name.data();
  ::fchmod(fd_, 0644);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
  release_slot(slot_);
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
  release_slot(slot_);
  slot_ = -1;
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

namespace {

fs::path where(const std::string& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? fs::absolute(p).lexically_normal() : c;
}

// Whether the two paths end at one destination: the same canonical path, or
// the same file through a hard link.
bool same_destination(const std::string& a, const std::string& b) { return where(a) == where(b) || same_file(a, b); }

bool inside(const fs::path& file, const fs::path& dir) {
  const auto rel = file.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace

void check_outputs_apart(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const NamedPath& o = outputs[i];
    if (o.path.empty()) continue;
    for (const NamedPath& in : inputs) {
      if (in.path.empty()) continue;
      std::error_code ec;
      const bool folder = fs::is_directory(in.path, ec);
      BNFOLD_CHECK(folder ? !(fs::exists(o.path, ec) && inside(where(o.path), where(in.path)))
                          : !same_destination(o.path, in.path),
                   ErrorCode::InvalidArgument, "{} {} would overwrite {}{} ({})", o.what, o.path,
                   folder ? "a file of " : "", in.what, in.path);
    }
    for (size_t j = 0; j < i; ++j)
      BNFOLD_CHECK(outputs[j].path.empty() || !same_destination(o.path, outputs[j].path),
                   ErrorCode::InvalidArgument, "{} and {} both name {}: one would overwrite the other", outputs[j].what,
                   o.what, o.path);
    check_writable(o.path);
  }
}

}  // namespace bnfold
