#include "api/serve/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace bnfold::serve {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();  // le: value <= bound
  std::lock_guard<std::mutex> lock(mutex_);
  ++buckets_[i];
  sum_ += value;
}

Histogram::Counts Histogram::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Counts c{bounds_, {}, sum_};
  uint64_t running = 0;
  for (uint64_t b : buckets_) c.cumulative.push_back(running += b);
  return c;
}

std::string escape_label_value(const std::string& value) {
  std::string out;
  for (char ch : value) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '"') out += "\\\"";
    else if (ch == '\n') out += "\\n";
    else out += ch;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{}", v);  // the shortest text that reads back as the same double
}

namespace {
std::string label_text(const Labels& labels) {
  if (labels.empty()) return "";
  std::string s = "{";
  for (size_t i = 0; i < labels.size(); ++i)
    s += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escape_label_value(labels[i].second));
  return s + "}";
}
}  // namespace

void Exposition::family(const std::string& name, const std::string& type, const std::string& help) {
  std::string h;  // HELP escapes only backslash and newline
  for (char ch : help) h += ch == '\\' ? "\\\\" : ch == '\n' ? "\\n" : std::string(1, ch);
  text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, h, name, type);
}

void Exposition::sample(const std::string& name, const Labels& labels, double value) {
  text_ += fmt::format("{}{} {}\n", name, label_text(labels), format_value(value));
}

void Exposition::histogram(const std::string& name, const Labels& labels, const Histogram::Counts& c) {
  for (size_t i = 0; i <= c.bounds.size(); ++i) {
    Labels l = labels;
    l.emplace_back("le", i < c.bounds.size() ? format_value(c.bounds[i]) : "+Inf");
    sample(name + "_bucket", l, static_cast<double>(c.cumulative[i]));
  }
  sample(name + "_sum", labels, c.sum);
  sample(name + "_count", labels, static_cast<double>(c.cumulative.back()));
}

}  // namespace bnfold::serve
