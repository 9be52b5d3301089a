#include "tools/text.hpp"

#include <cmath>

#include <fmt/format.h>

namespace bnfold::cli {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string human_count(int64_t count) {
  const double v = static_cast<double>(count);
  if (count >= 1000000000) return fmt::format("{:.2f} G", v / 1e9);
  if (count >= 1000000) return fmt::format("{:.2f} M", v / 1e6);
  if (count >= 1000) return fmt::format("{:.1f} k", v / 1e3);
  return std::to_string(count);
}

std::string fit(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  return s.substr(0, width - 1) + "~";
}

std::string fit_left(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  return "~" + s.substr(s.size() - (width - 1));
}

std::string short_number(double v) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  const double a = std::fabs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e5)) return fmt::format("{:.2e}", v);
  return fmt::format("{:.4g}", v);
}

}  // namespace bnfold::cli
