// Numbers from text without exceptions (std::from_chars), so that no
// std::stoll message ever reaches a user: callers say what was malformed.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace bnfold BNFOLD_API {

// The number at the start of s; *used receives how many characters it took.
// Without `used`, the whole of s must be the number. nullopt when there is
// none or it does not fit.
std::optional<int64_t> parse_int64(std::string_view s, size_t* used = nullptr);
std::optional<uint64_t> parse_uint64(std::string_view s, size_t* used = nullptr);
// Decimal or scientific notation, "inf" and "nan" too (callers range-check).
std::optional<double> parse_double(std::string_view s, size_t* used = nullptr);

}  // namespace bnfold
