#include "bnfold/graph/numbers.hpp"

#include <charconv>

namespace bnfold {

namespace {

template <typename T>
std::optional<T> parse(std::string_view s, size_t* used) {
  // from_chars takes no leading '+' or spaces; the CLI's users type both.
  size_t skip = 0;
  while (skip < s.size() && s[skip] == ' ') ++skip;
  if (skip < s.size() && s[skip] == '+') ++skip;
  T v{};
  const char* begin = s.data() + skip;
  const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (ec != std::errc() || end == begin) return std::nullopt;
  const auto n = static_cast<size_t>(end - s.data());
  if (used) *used = n;
  else if (n != s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<int64_t> parse_int64(std::string_view s, size_t* used) { return parse<int64_t>(s, used); }
std::optional<uint64_t> parse_uint64(std::string_view s, size_t* used) { return parse<uint64_t>(s, used); }
std::optional<double> parse_double(std::string_view s, size_t* used) { return parse<double>(s, used); }

}  // namespace bnfold
