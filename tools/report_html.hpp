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

// A bar chart (one group of bars per label, one bar per series).
std::string svg_bars(const std::string& title, const std::vector<std::string>& labels,
                     const std::vector<Series>& series, const std::string& y_label);
// A line chart over numeric x values.
std::string svg_lines(const std::string& title, const std::vector<double>& x, const std::vector<Series>& series,
                      const std::string& x_label, const std::string& y_label);
std::string html_escape(const std::string& s);
// A table from rows of cells (first row: header).
std::string html_table(const std::vector<std::vector<std::string>>& rows);
// Writes the page (atomically) with a title, paragraphs and sections of raw HTML.
void write_html(const std::string& path, const std::string& title, const std::vector<std::string>& paragraphs,
                const std::vector<std::pair<std::string, std::string>>& sections);

}  // namespace bnfold::cli
