// Self-contained HTML reports (no network, no scripts): tables and inline SVG
// charts for audit, drift and recalibrate, and the drift page that both
// `bnfold drift --html` and the server's live page (`bnfold serve`, GET /) show.
#pragma once

#include "bnfold/graph/export.hpp"

#include <string>
#include <utility>
#include <vector>

namespace bnfold BNFOLD_API {

struct DriftReport;

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
  std::string x_title, y_title;  // y_title: the value axis' (horizontal in a bar chart)
  bool log = false;               // log10 y axis (values <= 0 sit on the floor); for values spanning decades
  double y_max = 0;               // fixed top of a linear axis (1 for shares); 0: from the data
  std::vector<Threshold> thresholds;
  bool fit = false;               // linear axis around the data (not from 0), values as dots: for close values
  bool percent = false;           // ticks and values as percentages (shares)
};
// A chart is a <figure>: the title and the legend are HTML (they wrap), the
// plot an SVG as wide as the page's text.
// Horizontal bars: one row per label (its name on the left, past 56
// characters cut where names are alike (fit_names), in full on hover), one bar per series with its value.
std::string svg_bars(const std::string& title, const std::vector<std::string>& labels,
                     const std::vector<Series>& series, const ChartOptions& options);
// A line chart over numeric x values (points spaced evenly).
std::string svg_lines(const std::string& title, const std::vector<double>& x, const std::vector<Series>& series,
                      const ChartOptions& options);
// Round tick values for a linear axis from 0 to at least `max`: 0, step, ... (steps of 1, 2, 2.5 or 5 x 10^k).
std::vector<double> nice_ticks(double max, int approx_count = 4);
std::string html_escape(const std::string& s);
// A table from rows of cells (first row: header).
std::string html_table(const std::vector<std::vector<std::string>>& rows);
using HtmlSections = std::vector<std::pair<std::string, std::string>>;  // heading, raw HTML
// A page with a title, paragraphs and sections; the first paragraph is the
// report's one-line summary, shown in a box above the rest. `head` is raw
// HTML for <head> (the live page's refresh).
std::string html_page(const std::string& title, const std::vector<std::string>& paragraphs,
                      const HtmlSections& sections, const std::string& head = "");
// Writes html_page(...) atomically.
void write_html(const std::string& path, const std::string& title, const std::vector<std::string>& paragraphs,
                const HtmlSections& sections);

// The drift report as page sections (per-layer ratio chart and table, the
// shifts, the scores) and its paragraphs (the verdict, then the summary).
HtmlSections drift_html_sections(const DriftReport& report);
std::vector<std::string> drift_html_paragraphs(const DriftReport& report);

}  // namespace bnfold
