// Internal: the time now as ISO 8601 UTC ("2026-12-06T06:14:24Z"), what the
// analyses stamp on statistics, reports and written models. Such strings
// sort in time order.
#pragma once

#include <string>

namespace bnfold {

std::string utc_now();

}  // namespace bnfold
