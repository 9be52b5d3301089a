#include "bnfold/graph/memory.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "graph/check.hpp"
#include "bnfold/graph/numbers.hpp"

namespace bnfold {

namespace {

std::atomic<size_t> g_limit{0};  // 0: the default
std::atomic<size_t> g_in_use{0};

std::string human(size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) v /= 1024, ++u;
  return fmt::format("{:.3g} {}", v, units[u]);
}

}  // namespace

size_t default_memory_limit() {
  static const size_t limit = [] {
    size_t m = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
    rlimit r{};
    if (getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != RLIM_INFINITY) m = std::min<size_t>(m, r.rlim_cur);
    std::ifstream cg("/sys/fs/cgroup/memory.max");
    std::string text;
    if (cg >> text && text != "max")
      if (auto v = parse_uint64(text)) m = std::min<size_t>(m, *v);
    return m / 4 * 3;
  }();
  return limit;
}

size_t memory_limit() {
  const size_t l = g_limit.load();
  return l ? l : default_memory_limit();
}

void set_memory_limit(size_t bytes) { g_limit.store(bytes); }

size_t memory_in_use() { return g_in_use.load(); }

size_t parse_memory_size(const std::string& text, const char* what) {
  size_t used = 0;
  const auto v = parse_double(text, &used);
  std::string unit = text.substr(v ? used : 0);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double scale = 0;
  for (const auto& [name, s] : {std::pair<const char*, double>{"", 1}, {"B", 1}, {"K", 1024.0}, {"KB", 1024.0},
                                {"KIB", 1024.0}, {"M", 1048576.0}, {"MB", 1048576.0}, {"MIB", 1048576.0},
                                {"G", 1073741824.0}, {"GB", 1073741824.0}, {"GIB", 1073741824.0},
                                {"T", 1099511627776.0}, {"TB", 1099511627776.0}, {"TIB", 1099511627776.0}})
    if (unit == name) scale = s;
  BNFOLD_CHECK(v && scale > 0 && std::isfinite(*v) && *v > 0 && *v * scale < 1.8e19, ErrorCode::InvalidArgument,
               "{} '{}': expected a size such as 512M, 4G or 1.5GiB", what, text);
  return static_cast<size_t>(*v * scale);
}

namespace {

// Counts `size` bytes against the limit, or throws before anything is counted.
void reserve(size_t size, size_t bytes, const std::function<std::string()>& what) {
  const size_t limit = memory_limit();
  size_t in_use = g_in_use.load();
  do {
    if (size > limit || in_use > limit - size)
      failf(ErrorCode::ResourceLimit,
            "{} needs {} with {} in use, over the memory limit of {} (raise it with --max-memory or "
            "SessionOptions::max_memory)",
            what(), human(bytes), human(in_use), human(limit));
  } while (!g_in_use.compare_exchange_weak(in_use, in_use + size));
}

}  // namespace

std::shared_ptr<void> account(std::shared_ptr<void> owner, size_t bytes,
                              const std::function<std::string()>& what) {
  reserve(bytes, bytes, what);
  void* p = owner.get();
  return std::shared_ptr<void>(p, [owner = std::move(owner), bytes](void*) mutable {
    owner.reset();
    g_in_use -= bytes;
  });
}

std::shared_ptr<void> allocate(size_t bytes, bool zero, const std::function<std::string()>& what) {
  const size_t size = bytes > SIZE_MAX - 63 ? SIZE_MAX : std::max<size_t>(64, (bytes + 63) / 64 * 64);
  reserve(size, bytes, what);
  void* p = std::aligned_alloc(64, size);
  if (!p) {
    g_in_use -= size;
    failf(ErrorCode::ResourceLimit, "{}: out of memory allocating {}", what(), human(bytes));
  }
  if (zero) std::memset(p, 0, size);
  return std::shared_ptr<void>(p, [size](void* q) {
    std::free(q);
    g_in_use -= size;
  });
}

}  // namespace bnfold
