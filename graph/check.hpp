// Internal helper: BNFOLD_CHECK(cond, code, "fmt {}", args...) throws
// bnfold::Error with a message built by fmt only when cond is false, so the
// formatting costs nothing on the good path.
#pragma once

#include <fmt/format.h>

#include <string>

#include "bnfold/graph/error.hpp"

namespace bnfold {

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) {
  throw Error(code, message);
}

template <typename... Args>
[[noreturn]] void failf(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(code, fmt::format(f, std::forward<Args>(args)...));
}

// nlohmann::json's exception text without its "[json.exception.type_error.302] "
// tag, for a message a person reads ("type must be number, but is string").
inline std::string json_message(const char* what) {
  std::string s(what);
  if (s.rfind("[json.exception.", 0) == 0) {
    const size_t end = s.find("] ");
    if (end != std::string::npos) s.erase(0, end + 2);
  }
  return s;
}

}  // namespace bnfold

#define BNFOLD_CHECK(cond, code, ...)                   \
  do {                                                  \
    if (!(cond)) ::bnfold::failf((code), __VA_ARGS__); \
  } while (0)
