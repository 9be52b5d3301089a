// The Prometheus text exposition format (version 0.0.4), written by hand:
// bookworm has no prometheus-cpp, and the format is a few rules (HELP/TYPE
// lines, escaped label values, histograms as cumulative _bucket{le} series
// with _sum and _count). `promtool check metrics` checks what this writes.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bnfold::serve {

using Labels = std::vector<std::pair<std::string, std::string>>;

// A histogram with fixed upper bounds (the +Inf bucket is implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  struct Counts {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
  };
  Counts counts() const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> bounds_;
  std::vector<uint64_t> buckets_;  // not cumulative; last: above every bound
  double sum_ = 0;
};

// Builds one exposition: each family's HELP and TYPE once, then its samples.
class Exposition {
 public:
  // Starts a family; `type` is "counter", "gauge" or "histogram".
  void family(const std::string& name, const std::string& type, const std::string& help);
  void sample(const std::string& name, const Labels& labels, double value);
  void histogram(const std::string& name, const Labels& labels, const Histogram::Counts& counts);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// A label value or HELP text escaped as the format requires (\\, \" and \n).
std::string escape_label_value(const std::string& value);
// A sample value: integers without a fraction, NaN and infinities by name.
std::string format_value(double value);

}  // namespace bnfold::serve
