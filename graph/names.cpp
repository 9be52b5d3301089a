#include "bnfold/graph/names.hpp"

#include <algorithm>

namespace bnfold {

namespace {

size_t common_prefix(const std::string& a, const std::string& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

size_t common_suffix(const std::string& a, const std::string& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[a.size() - 1 - n] == b[b.size() - 1 - n]) ++n;
  return n;
}

// `s` in `width` characters, showing where it differs from the names most
// like it: `df` characters from the front agree with one of them, `db` from
// the back with one. A middle cut where head or tail reaches that place, else
// head ~ the window where it differs ~ tail.
std::string cut_keeping(const std::string& s, size_t width, size_t df, size_t db) {
  if (s.size() <= width || width < 5) return s;
  const size_t room = width - 1;
  size_t head = room / 2, tail = room - head;
  if (head <= df && tail <= db) {  // neither shows the first character where it differs
    if (df + 1 <= room - 4) head = std::min(df + 3, room - 4), tail = room - head;
    else if (db + 1 <= room - 4) tail = std::min(db + 3, room - 4), head = room - tail;
    else {
      const size_t side = std::max<size_t>(4, (width - 2) / 4), mid = width - 2 - 2 * side;
      const size_t a = std::min(df >= mid / 2 ? df - mid / 2 : 0, s.size() - side - mid);
      return s.substr(0, side) + "~" + s.substr(a, mid) + "~" + s.substr(s.size() - side);
    }
  }
  return s.substr(0, head) + "~" + s.substr(s.size() - tail);
}

}  // namespace

std::vector<std::string> fit_names(const std::vector<std::string>& names, size_t width) {
  return fit_names(names, std::vector<size_t>(names.size(), width));
}

std::vector<std::string> fit_names(const std::vector<std::string>& names, std::vector<size_t> widths) {
  std::vector<size_t> df(names.size(), 0), db(names.size(), 0);
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = 0; j < names.size(); ++j)
      if (i != j && names[i] != names[j]) {
        df[i] = std::max(df[i], common_prefix(names[i], names[j]));
        db[i] = std::max(db[i], common_suffix(names[i], names[j]));
      }
  std::vector<std::string> out(names.size());
  for (bool again = true; again;) {
    again = false;
    for (size_t i = 0; i < names.size(); ++i) out[i] = cut_keeping(names[i], widths[i], df[i], db[i]);
    for (size_t i = 0; i < names.size(); ++i)
      for (size_t j = i + 1; j < names.size(); ++j)
        if (out[i] == out[j] && names[i] != names[j]) {  // still alike: keep more of both
          for (size_t k : {i, j})
            if (widths[k] < names[k].size()) widths[k] += 2, again = true;
        }
  }
  return out;
}

std::string strip_shared_suffix(std::vector<std::string>& names) {
  if (names.empty()) return "";
  const size_t slash = names[0].rfind('/');
  if (slash == std::string::npos || slash == 0) return "";
  const std::string tail = names[0].substr(slash);
  for (const auto& n : names)
    if (n.size() <= tail.size() || n.compare(n.size() - tail.size(), tail.size(), tail) != 0) return "";
  for (auto& n : names) n.resize(n.size() - tail.size());
  return tail;
}

}  // namespace bnfold
