// Writing a file so that nothing half-written, and nothing it should not
// touch, is ever at its path. The bytes go into a new temporary file in the
// destination's folder (a unique name, created exclusively: a symlink or
// file planted at a fixed name like OUT.tmp is never followed or reused),
// are flushed to disk, and the temporary is renamed over the destination.
// A destination that exists and is no regular file (a device such as
// /dev/null, a folder, a pipe) is refused. Every failure throws a
// bnfold::Error naming the file; the temporary is removed on every path that
// does not commit, and also when SIGINT, SIGTERM or SIGHUP ends the process
// mid-write: the first AtomicFile installs a handler for those of the three
// whose disposition is still the default (the process dies of the signal as
// before, after removing the temporaries; handlers a program installed itself
// are left alone).
#pragma once

#include "bnfold/graph/export.hpp"

#include <string>
#include <vector>

namespace bnfold BNFOLD_API {

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();  // removes the temporary unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  int fd() const { return fd_; }
  // The temporary's path (to check the written file before committing).
  const std::string& temp_path() const { return temp_; }
  // fsync, close, rename over the destination.
  void commit();

 private:
  std::string path_, temp_;
  int fd_ = -1;
  int slot_ = -1;  // in the list a signal handler cleans
  bool committed_ = false;
};

void write_file_atomic(const std::string& path, const std::string& bytes);

// Removes every temporary an AtomicFile is writing now. Async-signal-safe: for
// a program's own signal handler, which replaces bnfold's.
void remove_pending_temporaries() noexcept;

// What AtomicFile checks before it writes anything (the folder exists, the
// path is no device, folder or pipe), for commands to check every output
// path before they start their work.
void check_writable(const std::string& path);

// A file a command or call reads or writes, with what names it ("-o",
// "--report", "the model", "--data") for the message.
struct NamedPath {
  std::string what;
  std::string path;
};
// Before any work: refuses (InvalidArgument) an output that would replace an
// input or another output — the same path however written (d/./m.onnx), or
// the same file through a link — naming both; an input folder (the data)
// counts for every file already in it. Runs check_writable on each output.
// Empty paths are skipped. Every front end calls it for every output.
void check_outputs_apart(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs);

// Whether a and b name the same existing file (device and inode: catches
// d/./m.onnx, hard links and symlinks to the input).
bool same_file(const std::string& a, const std::string& b);

}  // namespace bnfold
