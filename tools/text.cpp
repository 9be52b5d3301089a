#include "tools/text.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include "bnfold/graph/numbers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "tools/arg_check.hpp"

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

size_t terminal_width() {
  winsize w{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col >= 40) return w.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    const long v = std::strtol(c, nullptr, 10);
    if (v >= 40 && v <= 1000) return static_cast<size_t>(v);
  }
  return 80;
}

size_t column_width(const std::vector<std::string>& names, size_t others, size_t least) {
  size_t longest = 0;
  for (const auto& n : names) longest = std::max(longest, n.size());
  const size_t room = terminal_width() > others ? terminal_width() - others : least;
  return std::max(least, std::min(longest, room));
}

std::string short_number(double v) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  const double a = std::fabs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e5)) return fmt::format("{:.2e}", v);
  return fmt::format("{:.4g}", v);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  for (char c : s + ",") {
    if (c != ',') {
      item += c;
    } else if (!item.empty()) {
      out.push_back(item);
      item.clear();
    }
  }
  return out;
}

namespace {

// Every item of the list parsed whole by `parse` (an optional), else one
// error naming the option and what it expects.
template <typename T, typename F>
std::vector<T> parse_list(const std::string& s, const char* option, const char* expected, F&& parse) {
  std::vector<T> out;
  const std::vector<std::string> items = split_list(s);
  bool ok = !items.empty();
  for (const auto& item : items) {
    const auto v = parse(item);
    ok &= v.has_value();
    if (v) out.push_back(static_cast<T>(*v));
  }
  BNFOLD_ARG_CHECK(ok, ErrorCode::InvalidArgument, "{} '{}': expected {}", option, s, expected);
  return out;
}

}  // namespace

std::vector<int64_t> parse_int_list(const std::string& s, const char* option) {
  auto v = parse_list<int64_t>(s, option, "positive integers separated by commas",
                               [](const std::string& x) { return parse_int64(x); });
  for (int64_t x : v)
    BNFOLD_ARG_CHECK(x > 0, ErrorCode::InvalidArgument, "{} '{}': expected positive integers separated by commas",
                 option, s);
  return v;
}

std::vector<float> parse_float_list(const std::string& s, const char* option) {
  return parse_list<float>(s, option, "finite numbers separated by commas", [](const std::string& x) {
    const auto v = parse_double(x);
    return v && std::isfinite(*v) && std::fabs(*v) <= 3.4e38 ? v : std::nullopt;
  });
}

std::vector<int64_t> parse_size(const std::string& s, const char* option) {
  const auto x = s.find('x');
  std::vector<int64_t> hw;
  if (x != std::string::npos && s.find(',') == std::string::npos) {
    std::string list = s;
    list[x] = ',';
    try {
      hw = parse_int_list(list, option);
    } catch (const Error&) {
      hw.clear();
    }
  }
  BNFOLD_ARG_CHECK(hw.size() == 2, ErrorCode::InvalidArgument, "{} '{}': expected HxW, e.g. 224x224", option, s);
  return hw;
}

std::string wrap(const std::string& text, size_t width, const std::string& indent) {
  std::string out, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = indent;
    }
    line += (line.empty() || line == indent ? "" : " ") + word;
  }
  return out + line;
}

}  // namespace bnfold::cli
