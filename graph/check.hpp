// Internal helper: BNFOLD_CHECK(cond, code, "fmt {}", args...) throws
// bnfold::Error with a message built by fmt only when cond is false, so the
// formatting costs nothing on the good path.
#pragma once

#include <fmt/format.h>

#include "graph/error.hpp"

namespace bnfold {

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) {
  throw Error(code, message);
}

template <typename... Args>
[[noreturn]] void failf(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(code, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace bnfold

#define BNFOLD_CHECK(cond, code, ...)                   \
  do {                                                  \
    if (!(cond)) ::bnfold::failf((code), __VA_ARGS__); \
  } while (0)
