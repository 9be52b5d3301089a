#include "passes/fold_report.hpp"

namespace bnfold {

std::string BnFoldRow::describe() const {
  if (action == "folded") return "folded into " + target;
  if (action == "folded forward") return "folded into following " + target;
  if (action == "scale-shift") return "kept as scale-shift: " + reason;
  if (action == "kept") return "kept: " + reason;
  return action;
}

BnFoldRow& FoldReport::row(const std::string& output) {
  auto it = rows_.find(output);
  if (it != rows_.end()) return it->second;
  order_.push_back(output);
  BnFoldRow& r = rows_[output];
  r.output = output;
  r.action = "kept";
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

size_t FoldReport::count(const std::string& action) const {
  size_t n = 0;
  for (const auto& [k, r] : rows_) n += r.action == action;
  return n;
}

}  // namespace bnfold
