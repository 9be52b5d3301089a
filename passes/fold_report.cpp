#include "bnfold/passes/fold_report.hpp"

namespace bnfold {

const char* to_string(FoldAction action) {
  switch (action) {
    case FoldAction::Kept: return "kept";
    case FoldAction::Folded: return "folded";
    case FoldAction::FoldedForward: return "folded forward";
    case FoldAction::ScaleShift: return "scale-shift";
  }
  return "?";
}

std::string BnFoldRow::describe() const {
  switch (action) {
    case FoldAction::Folded: return "folded into " + target;
    case FoldAction::FoldedForward: return "folded into following " + target;
    case FoldAction::ScaleShift: return "kept as scale-shift: " + reason;
    case FoldAction::Kept: break;
  }
  return "kept: " + reason;
}

BnFoldRow& FoldReport::row(const std::string& output) {
  auto it = rows_.find(output);
  if (it != rows_.end()) return it->second;
  order_.push_back(output);
  BnFoldRow& r = rows_[output];
  r.output = output;
  return r;
}

BnFoldRow* FoldReport::find(const std::string& output) {
  auto it = rows_.find(output);
  return it == rows_.end() ? nullptr : &it->second;
}

void FoldReport::note(const std::string& output, const std::string& why) {
  BnFoldRow& r = row(output);
  if (r.reason.find(why) != std::string::npos) return;
  r.reason += (r.reason.empty() ? "" : "; ") + why;
}

std::vector<BnFoldRow> FoldReport::rows() const {
  std::vector<BnFoldRow> out;
  for (const auto& k : order_) out.push_back(rows_.at(k));
  return out;
}

size_t FoldReport::count(FoldAction action) const {
  size_t n = 0;
  for (const auto& [k, r] : rows_) n += r.action == action;
  return n;
}

}  // namespace bnfold
