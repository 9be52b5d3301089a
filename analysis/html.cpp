#include "bnfold/analysis/html.hpp"

#include "bnfold/graph/atomic_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "bnfold/analysis/bn_analysis.hpp"

namespace bnfold {

namespace {

const char* kColors[] = {"#3b6ea8", "#d9822b", "#4e9a58", "#b04a4a", "#7a5ea8"};

std::string legend(const std::vector<Series>& series, int x, int y) {
  std::string s;
  for (size_t i = 0; i < series.size(); ++i)
    s += fmt::format(R"svg(<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="11">{}</text>)svg",
                     x + static_cast<int>(i) * 160, y, kColors[i % 5], x + 14 + static_cast<int>(i) * 160, y + 9,
                     html_escape(series[i].name));
  return s;
}

double max_of(const std::vector<Series>& series, const std::vector<Threshold>& thresholds) {
  double m = 0;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) m = std::max(m, v);
  for (const auto& t : thresholds)
    if (std::isfinite(t.value)) m = std::max(m, t.value);
  return m > 0 ? m : 1;
}

double min_positive(const std::vector<Series>& series, const std::vector<Threshold>& thresholds) {
  double m = 0;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v) && v > 0) m = m == 0 ? v : std::min(m, v);
  for (const auto& t : thresholds)
    if (t.value > 0) m = m == 0 ? t.value : std::min(m, t.value);
  return m > 0 ? m : 1;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("1e{}", static_cast<int>(std::lround(std::log10(a))));
  return fmt::format("{:g}", v);
}

// Maps values to pixel heights above the x axis, linear from 0 or log10.
struct Scale {
  bool log = false;
  double lo = 0, hi = 1;  // linear: 0..hi; log: 10^lo..10^hi
  int h = 220;
  std::vector<double> ticks;
  int height(double v) const {
    if (!std::isfinite(v)) return 0;
    if (log) {
      if (v <= 0) return 0;
      const double t = (std::log10(v) - lo) / (hi - lo);
      return static_cast<int>(h * std::clamp(t, 0.0, 1.0));
    }
    return static_cast<int>(h * std::clamp(v / hi, 0.0, 1.0));
  }
};

Scale make_scale(const std::vector<Series>& series, const ChartOptions& o, int h) {
  Scale sc;
  sc.h = h;
  sc.log = o.log;
  if (o.log) {
    sc.lo = std::floor(std::log10(min_positive(series, o.thresholds)));
    sc.hi = std::ceil(std::log10(max_of(series, o.thresholds)));
    if (sc.hi <= sc.lo) sc.hi = sc.lo + 1;
    const int decades = static_cast<int>(sc.hi - sc.lo);
    const int every = std::max(1, decades / 6);
    for (int d = 0; d <= decades; d += every) sc.ticks.push_back(std::pow(10.0, sc.lo + d));
  } else {
    sc.ticks = nice_ticks(o.y_max > 0 ? o.y_max : max_of(series, o.thresholds));
    sc.hi = sc.ticks.back();
  }
  return sc;
}

// Axes, ticks, titles and threshold lines of a chart area at (left, top), w x h.
std::string frame(const Scale& sc, const ChartOptions& o, int left, int top, int w) {
  const int h = sc.h;
  std::string s = fmt::format(
      R"svg(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#333"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#333"/>)svg",
      left, top, top + h, left + w);
  for (double t : sc.ticks) {
    const int y = top + h - sc.height(t);
    s += fmt::format(R"svg(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/><text class="tick" x="{}" y="{}" font-size="10" text-anchor="end">{}</text>)svg",
                     left, y, left + w, y, left - 4, y + 3, tick_label(t));
  }
  if (!o.y_title.empty())
    s += fmt::format(R"svg(<text class="axis-title" x="14" y="{0}" font-size="11" text-anchor="middle" transform="rotate(-90 14 {0})">{1}</text>)svg",
                     top + h / 2, html_escape(o.y_title + (sc.log ? " (log scale)" : "")));
  for (const auto& t : o.thresholds) {
    const int y = top + h - sc.height(t.value);
    s += fmt::format(R"svg(<line class="threshold" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#b04a4a" stroke-dasharray="6 4"/><text x="{}" y="{}" font-size="10" fill="#b04a4a" text-anchor="end">{}</text>)svg",
                     left, y, left + w, y, left + w, y - 3, html_escape(t.label));
  }
  return s;
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

std::vector<double> nice_ticks(double max, int approx_count) {
  if (!(max > 0) || !std::isfinite(max)) max = 1;
  const double raw = max / std::max(1, approx_count);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw * (1 - 1e-9)) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (int i = 0;; ++i) {
    const double v = step * i;
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
    if (v >= max * (1 - 1e-9)) break;
  }
  return ticks;
}

std::string svg_bars(const std::string& title, const std::vector<std::string>& labels,
                     const std::vector<Series>& series, const ChartOptions& o) {
  const int left = 64, top = 30, h = 220, bottom = 110;
  const int group = std::max(12, static_cast<int>(series.size()) * 10 + 6);
  const int w = std::max(300, static_cast<int>(labels.size()) * group);
  const Scale sc = make_scale(series, o, h);
  std::string s = fmt::format(R"svg(<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}">)svg",
                              left + w + 20, top + h + bottom);
  s += fmt::format(R"svg(<text x="{}" y="18" font-size="14" font-weight="bold">{}</text>)svg", left, html_escape(title));
  for (size_t i = 0; i < labels.size(); ++i) {
    const int gx = left + static_cast<int>(i) * group + 3;
    std::string label = labels[i];  // PyTorch's "/layer1/bn1/BatchNormalization": the op says nothing here
    const std::string suffix = "/BatchNormalization";
    if (label.size() > suffix.size() && label.compare(label.size() - suffix.size(), suffix.size(), suffix) == 0)
      label.resize(label.size() - suffix.size());
    for (size_t k = 0; k < series.size(); ++k) {
      const double v = i < series[k].values.size() ? series[k].values[i] : 0;
      // A bar is at least 2 px tall so that a tiny value (1e-15 after recalibration) stays visible.
      const int bh = std::max(2, sc.height(v));
      s += fmt::format(R"svg(<rect class="bar" x="{}" y="{}" width="8" height="{}" fill="{}"><title>{}: {:.4g}</title></rect>)svg",
                       gx + static_cast<int>(k) * 9, top + h - bh, bh, kColors[k % 5], html_escape(labels[i]), v);
    }
    s += fmt::format(R"svg(<text x="{0}" y="{1}" font-size="9" transform="rotate(60 {0} {1})">{2}</text>)svg", gx + 2,
                     top + h + 10, html_escape(label.size() > 28 ? "~" + label.substr(label.size() - 27) : label));
  }
  s += frame(sc, o, left, top, w);
  s += legend(series, left, top + h + bottom - 14);
  return s + "</svg>";
}

std::string svg_lines(const std::string& title, const std::vector<double>& x, const std::vector<Series>& series,
                      const ChartOptions& o) {
  const int left = 64, top = 30, w = 480, h = 220;
  const Scale sc = make_scale(series, o, h);
  std::string s = fmt::format(R"svg(<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}">)svg",
                              left + w + 20, top + h + 60);
  s += fmt::format(R"svg(<text x="{}" y="18" font-size="14" font-weight="bold">{}</text>)svg", left, html_escape(title));
  auto px = [&](size_t i) { return left + (x.size() > 1 ? static_cast<int>(w * i / (x.size() - 1)) : w / 2); };
  for (size_t i = 0; i < x.size(); ++i)
    s += fmt::format(R"svg(<text x="{}" y="{}" font-size="10" text-anchor="middle">{:g}</text>)svg", px(i), top + h + 14, x[i]);
  if (!o.x_title.empty())
    s += fmt::format(R"svg(<text class="axis-title" x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>)svg",
                     left + w / 2, top + h + 30, html_escape(o.x_title));
  s += frame(sc, o, left, top, w);
  for (size_t k = 0; k < series.size(); ++k) {
    std::string pts;
    for (size_t i = 0; i < x.size() && i < series[k].values.size(); ++i) {
      const double v = series[k].values[i];
      const int y = top + h - sc.height(v);
      pts += fmt::format("{},{} ", px(i), y);
      s += fmt::format(R"svg(<circle class="point" cx="{}" cy="{}" r="3" fill="{}"><title>{:g}: {:.4g}</title></circle>)svg",
                       px(i), y, kColors[k % 5], x[i], v);
    }
    s += fmt::format(R"svg(<polyline class="line" points="{}" fill="none" stroke="{}" stroke-width="2"/>)svg", pts,
                     kColors[k % 5]);
  }
  s += legend(series, left, top + h + 44);
  return s + "</svg>";
}

std::string html_table(const std::vector<std::vector<std::string>>& rows) {
  std::string s = "<table>";
  for (size_t r = 0; r < rows.size(); ++r) {
    s += "<tr>";
    for (const auto& c : rows[r]) s += (r == 0 ? "<th>" : "<td>") + html_escape(c) + (r == 0 ? "</th>" : "</td>");
    s += "</tr>";
  }
  return s + "</table>";
}

std::string html_page(const std::string& title, const std::vector<std::string>& paragraphs,
                      const HtmlSections& sections, const std::string& head) {
  std::string page = "<!DOCTYPE html><html><head><meta charset=\"utf-8\">" + head + "<title>" + html_escape(title) +
                     "</title><style>body{font-family:sans-serif;margin:24px;max-width:1100px}"
                     "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;"
                     "text-align:right}th{background:#eee}svg{margin:12px 0;display:block}</style></head><body>";
  page += "<h1>" + html_escape(title) + "</h1>";
  for (const auto& p : paragraphs) page += "<p>" + html_escape(p) + "</p>";
  for (const auto& [h, body] : sections) page += "<h2>" + html_escape(h) + "</h2>" + body;
  page += "</body></html>\n";
  return page;
}

void write_html(const std::string& path, const std::string& title, const std::vector<std::string>& paragraphs,
                const HtmlSections& sections) {
  write_file_atomic(path, html_page(title, paragraphs, sections));
}

}  // namespace bnfold
