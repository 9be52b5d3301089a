#include "tools/report_html.hpp"

#include "graph/atomic_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "graph/check.hpp"

namespace bnfold::cli {

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

double max_of(const std::vector<Series>& series) {
  double m = 0;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) m = std::max(m, v);
  return m > 0 ? m : 1;
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

std::string svg_bars(const std::string& title, const std::vector<std::string>& labels,
                     const std::vector<Series>& series, const std::string& y_label) {
  const int left = 60, top = 30, h = 220, bottom = 110;
  const int group = std::max(12, static_cast<int>(series.size()) * 10 + 6);
  const int w = std::max(300, static_cast<int>(labels.size()) * group);
  const double ymax = max_of(series);
  std::string s = fmt::format(R"svg(<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}">)svg",
                              left + w + 20, top + h + bottom);
  s += fmt::format(R"svg(<text x="{}" y="18" font-size="14" font-weight="bold">{}</text>)svg", left, html_escape(title));
  s += fmt::format(R"svg(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#333"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#333"/>)svg",
                   left, top, top + h, left + w);
  for (int t = 0; t <= 4; ++t) {
    const double v = ymax * t / 4;
    const int y = top + h - static_cast<int>(h * t / 4);
    s += fmt::format(R"svg(<text x="{}" y="{}" font-size="10" text-anchor="end">{:.3g}</text>)svg", left - 4, y + 3, v);
  }
  s += fmt::format(R"svg(<text x="12" y="{}" font-size="11" transform="rotate(-90 12 {})">{}</text>)svg", top + h / 2,
                   top + h / 2, html_escape(y_label));
  for (size_t i = 0; i < labels.size(); ++i) {
    const int gx = left + static_cast<int>(i) * group + 3;
    std::string label = labels[i];  // PyTorch's "/layer1/bn1/BatchNormalization": the op says nothing here
    const std::string suffix = "/BatchNormalization";
    if (label.size() > suffix.size() && label.compare(label.size() - suffix.size(), suffix.size(), suffix) == 0)
      label.resize(label.size() - suffix.size());
    for (size_t k = 0; k < series.size(); ++k) {
      const double v = i < series[k].values.size() && std::isfinite(series[k].values[i]) ? series[k].values[i] : 0;
      const int bh = static_cast<int>(h * v / ymax);
      s += fmt::format(R"svg(<rect class="bar" x="{}" y="{}" width="8" height="{}" fill="{}"><title>{}: {:.4g}</title></rect>)svg",
                       gx + static_cast<int>(k) * 9, top + h - bh, bh, kColors[k % 5], html_escape(labels[i]), v);
    }
    s += fmt::format(R"svg(<text x="{0}" y="{1}" font-size="9" transform="rotate(60 {0} {1})">{2}</text>)svg", gx + 2,
                     top + h + 10, html_escape(label.size() > 28 ? "~" + label.substr(label.size() - 27) : label));
  }
  s += legend(series, left, top + h + bottom - 14);
  return s + "</svg>";
}

std::string svg_lines(const std::string& title, const std::vector<double>& x, const std::vector<Series>& series,
                      const std::string& x_label, const std::string& y_label) {
  const int left = 60, top = 30, w = 480, h = 220;
  const double ymax = max_of(series);
  std::string s = fmt::format(R"svg(<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}">)svg",
                              left + w + 20, top + h + 60);
  s += fmt::format(R"svg(<text x="{}" y="18" font-size="14" font-weight="bold">{}</text>)svg", left, html_escape(title));
  s += fmt::format(R"svg(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#333"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#333"/>)svg",
                   left, top, top + h, left + w);
  auto px = [&](size_t i) { return left + (x.size() > 1 ? static_cast<int>(w * i / (x.size() - 1)) : w / 2); };
  for (size_t i = 0; i < x.size(); ++i)
    s += fmt::format(R"svg(<text x="{}" y="{}" font-size="10" text-anchor="middle">{:g}</text>)svg", px(i), top + h + 14, x[i]);
  for (int t = 0; t <= 4; ++t)
    s += fmt::format(R"svg(<text x="{}" y="{}" font-size="10" text-anchor="end">{:.3g}</text>)svg", left - 4,
                     top + h - h * t / 4 + 3, ymax * t / 4);
  s += fmt::format(R"svg(<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>)svg", left + w / 2, top + h + 30,
                   html_escape(x_label));
  s += fmt::format(R"svg(<text x="12" y="{}" font-size="11" transform="rotate(-90 12 {})">{}</text>)svg", top + h / 2,
                   top + h / 2, html_escape(y_label));
  for (size_t k = 0; k < series.size(); ++k) {
    std::string pts;
    for (size_t i = 0; i < x.size() && i < series[k].values.size(); ++i) {
      const double v = std::isfinite(series[k].values[i]) ? series[k].values[i] : 0;
      const int y = top + h - static_cast<int>(h * v / ymax);
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

void write_html(const std::string& path, const std::string& title, const std::vector<std::string>& paragraphs,
                const std::vector<std::pair<std::string, std::string>>& sections) {
  std::string page = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
                     "</title><style>body{font-family:sans-serif;margin:24px;max-width:1100px}"
                     "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;"
                     "text-align:right}th{background:#eee}svg{margin:12px 0;display:block}</style></head><body>";
  page += "<h1>" + html_escape(title) + "</h1>";
  for (const auto& p : paragraphs) page += "<p>" + html_escape(p) + "</p>";
  for (const auto& [h, body] : sections) page += "<h2>" + html_escape(h) + "</h2>" + body;
  page += "</body></html>\n";
  write_file_atomic(path, page);
}

}  // namespace bnfold::cli
