// Self-contained HTML reports (no network, no scripts): tables and inline SVG
// charts for audit, drift and recalibrate.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace bnfold::cli {

struct Series {
  std::string name;
  std::vector<double> values;
};

// A dashed horizontal line (a tolerance, a verdict threshold).
struct Threshold {
  double value;
  std::string label;
};
struct ChartOptions {
  std::string x_title, y_title;
  bool log = false;               // log10 y axis (values <= 0 sit on the floor); for values spanning decades
  double y_max = 0;               // fixed top of a linear axis (1 for shares); 0: from the data
  std::vector<Threshold> thresholds;
};
// A bar chart (one group of bars per label, one bar per series).
std::string svg_bars(const std::string& title, const std::vector<std::string>& labels,
                     const std::vector<Series>& series, const ChartOptions& options);
// A line chart over numeric x values.
std::string svg_lines(const std::string& title, const std::vector<double>& x, const std::vector<Series>& series,
                      const ChartOptions& options);
// Round tick values for a linear axis from 0 to at least `max`: 0, step, ... (steps of 1, 2, 2.5 or 5 x 10^k).
std::vector<double> nice_ticks(double max, int approx_count = 4);
std::string html_escape(const std::string& s);
// A table from rows of cells (first row: header).
std::string html_table(const std::vector<std::vector<std::string>>& rows);
// Writes the page (atomically) with a title, paragraphs and sections of raw HTML.
void write_html(const std::string& path, const std::string& title, const std::vector<std::string>& paragraphs,
                const std::vector<std::pair<std::string, std::string>>& sections);

}  // namespace bnfold::cli
