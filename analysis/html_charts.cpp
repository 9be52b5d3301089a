// Inline SVG charts, drawn to be read at a glance on a 1280 px page: the title
// and the legend are HTML around the SVG (they wrap instead of being clipped),
// per-layer bars run horizontally with the names on the left (no rotated
// text), every chart is as wide as the page's text, and a --fit axis starts
// near the data so that 98.4% against 99.8% is a visible gap.
#include "bnfold/analysis/html.hpp"

#include "bnfold/graph/names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace bnfold {

namespace {

const char* kColors[] = {"#3b6ea8", "#d9822b", "#4e9a58", "#b04a4a", "#7a5ea8"};
constexpr int kWidth = 960;       // the page's text is 1000 px wide (html.cpp's style)
constexpr double kCharPx = 7.2;   // a 12 px sans-serif character, generously

std::string legend(const std::vector<Series>& series) {
  if (series.size() < 2 && (series.empty() || series[0].name.empty())) return "";
  std::string s = "<div class=\"legend\">";
  for (size_t i = 0; i < series.size(); ++i)
    s += fmt::format(R"(<span><i style="background:{}"></i>{}</span>)", kColors[i % 5], html_escape(series[i].name));
  return s + "</div>";
}

std::string figure(const std::string& title, const std::string& svg, const std::vector<Series>& series) {
  return "<figure class=\"chart\"><figcaption>" + html_escape(title) + "</figcaption>" + svg + legend(series) +
         "</figure>";
}

// The finite values of the series and thresholds.
std::vector<double> values_of(const std::vector<Series>& series, const std::vector<Threshold>& thresholds) {
  std::vector<double> v;
  for (const auto& s : series)
    for (double x : s.values)
      if (std::isfinite(x)) v.push_back(x);
  for (const auto& t : thresholds)
    if (std::isfinite(t.value)) v.push_back(t.value);
  return v;
}

double nice_step(double range, int approx_count) {
  const double raw = range / std::max(1, approx_count);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw * (1 - 1e-9)) return m * mag;
  return 10 * mag;
}

// Maps values to a pixel length along the value axis: linear over [lo, hi] or log10.
struct Scale {
  bool log = false;
  double lo = 0, hi = 1;  // linear: lo..hi; log: 10^lo..10^hi
  int length = 1;
  std::vector<double> ticks;
  int at(double v) const {
    if (!std::isfinite(v)) return 0;
    double t;
    if (log) t = v <= 0 ? 0 : (std::log10(v) - lo) / (hi - lo);
    else t = (v - lo) / (hi - lo);
    return static_cast<int>(std::lround(length * std::clamp(t, 0.0, 1.0)));
  }
};

Scale make_scale(const std::vector<Series>& series, const ChartOptions& o, int length) {
  Scale sc;
  sc.length = length;
  sc.log = o.log;
  const std::vector<double> v = values_of(series, o.thresholds);
  if (o.log) {
    double lo = 0, hi = 0;
    for (double x : v)
      if (x > 0) {
        lo = lo == 0 ? x : std::min(lo, x);
        hi = std::max(hi, x);
      }
    sc.lo = std::floor(std::log10(lo > 0 ? lo : 1));
    sc.hi = std::ceil(std::log10(hi > 0 ? hi : 10));
    if (sc.hi <= sc.lo) sc.hi = sc.lo + 1;
    const int decades = static_cast<int>(sc.hi - sc.lo);
    const int every = std::max(1, (decades + 5) / 6);
    for (int d = 0; d <= decades; d += every) sc.ticks.push_back(std::pow(10.0, sc.lo + d));
    return sc;
  }
  double lo = 0, hi = 0;
  if (!v.empty()) {
    lo = *std::min_element(v.begin(), v.end());
    hi = *std::max_element(v.begin(), v.end());
  }
  if (o.fit && hi > lo) {
    // Around the data, on round ticks; a share's axis stays within [0, 1].
    const double pad = (hi - lo) * 0.15;
    const double step = nice_step(hi - lo + 2 * pad, 4);
    sc.lo = std::floor((lo - pad) / step) * step;
    sc.hi = std::ceil((hi + pad) / step) * step;
    if (o.y_max > 0) sc.hi = std::min(sc.hi, o.y_max);
    if (lo >= 0) sc.lo = std::max(sc.lo, 0.0);
    for (double t = sc.lo; t <= sc.hi + step * 1e-6; t += step) sc.ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
    if (sc.ticks.back() < sc.hi - step * 1e-6) sc.ticks.push_back(sc.hi);
    return sc;
  }
  sc.ticks = nice_ticks(o.y_max > 0 ? o.y_max : std::max(hi, 0.0));
  sc.lo = 0;
  sc.hi = sc.ticks.back();
  return sc;
}

std::string number(double v, const ChartOptions& o) {
  if (!std::isfinite(v)) return std::isnan(v) ? "n/a" : (v > 0 ? "inf" : "-inf");
  if (o.percent) {
    std::string s = fmt::format("{:.2f}", 100 * v);
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s + "%";
  }
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("{:.2g}", v);
  if (a >= 100) return fmt::format("{:.0f}", v);  // 1770, not 1.77e+03
  return fmt::format("{:.3g}", v);
}

std::string tick_label(double v, const ChartOptions& o) {
  if (v == 0) return o.percent ? "0%" : "0";
  const double a = std::fabs(v);
  if (!o.percent && (a >= 1e5 || a < 1e-3)) return fmt::format("1e{}", static_cast<int>(std::lround(std::log10(a))));
  return o.percent ? number(v, o) : fmt::format("{:g}", v);
}

std::string axis_title(const ChartOptions& o, const Scale& sc) {
  std::string t = o.y_title;
  if (sc.log) t += " (log scale)";
  else if (sc.lo != 0) t += " (axis from " + tick_label(sc.lo, o) + ")";
  return html_escape(t);
}

// The row names of a bar chart in at most `chars` characters: PyTorch's
// "/layer1/bn1/BatchNormalization" without the op type (it says nothing in a
// chart of BN layers), cut where names are alike but never so that two read
// the same (fit_names).
std::vector<std::string> row_names(const std::vector<std::string>& labels, size_t chars) {
  std::vector<std::string> names = labels;
  const std::string suffix = "/BatchNormalization";
  for (auto& n : names)
    if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      n.resize(n.size() - suffix.size());
  return fit_names(names, chars);
}

std::string threshold_lines_vertical(const Scale& sc, const ChartOptions& o, int x0, int top, int bottom) {
  std::string s;
  for (size_t i = 0; i < o.thresholds.size(); ++i) {
    const auto& t = o.thresholds[i];
    const int x = x0 + sc.at(t.value);
    const bool right_half = x > x0 + sc.length / 2;
    s += fmt::format(R"svg(<line class="threshold" x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#b04a4a" stroke-dasharray="6 4"/>)svg",
                     x, top, bottom);
    s += fmt::format(R"svg(<text class="label" x="{}" y="{}" font-size="11" fill="#b04a4a" text-anchor="{}">{}</text>)svg",
                     right_half ? x - 4 : x + 4, top - 6 - 14 * static_cast<int>(o.thresholds.size() - 1 - i),
                     right_half ? "end" : "start", html_escape(t.label));
  }
  return s;
}

}  // namespace

std::vector<double> nice_ticks(double max, int approx_count) {
  if (!(max > 0) || !std::isfinite(max)) max = 1;
  const double step = nice_step(max, approx_count);
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
  const std::vector<std::string> names = row_names(labels, 56);
  size_t longest = 4;
  for (const auto& l : names) longest = std::max(longest, l.size());
  const int label_w = static_cast<int>(static_cast<double>(longest) * kCharPx) + 12;
  const int value_w = 64;  // the value printed after the longest bar
  const int x0 = label_w, plot_w = kWidth - label_w - value_w;
  const int n = static_cast<int>(series.size());
  const int bar_h = n == 1 ? 14 : 12, pitch = bar_h + 2;  // a value's 10 px text fits its bar's pitch
  const int row_h = std::max(24, n * pitch + 8);
  const int top = 10 + 14 * static_cast<int>(o.thresholds.size());
  const int plot_h = row_h * static_cast<int>(labels.size());
  const int height = top + plot_h + 44;
  const Scale sc = make_scale(series, o, plot_w);
  std::string s = fmt::format(R"svg(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}">)svg",
                              kWidth, height);
  for (double t : sc.ticks) {
    const int x = x0 + sc.at(t);
    s += fmt::format(R"svg(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#e3e3e3"/><text class="tick" x="{0}" y="{3}" font-size="11" text-anchor="middle">{4}</text>)svg",
                     x, top, top + plot_h, top + plot_h + 15, tick_label(t, o));
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    const int y = top + static_cast<int>(i) * row_h;
    const int bars_top = y + (row_h - n * pitch) / 2;
    s += fmt::format(R"svg(<text class="name" x="{}" y="{}" font-size="12" text-anchor="end"><title>{}</title>{}</text>)svg",
                     x0 - 8, y + row_h / 2 + 4, html_escape(labels[i]), html_escape(names[i]));
    double lo_v = INFINITY, hi_v = -INFINITY;
    for (int k = 0; k < n; ++k) {
      const double v = i < series[k].values.size() ? series[k].values[i] : NAN;
      const int by = bars_top + k * pitch;
      const std::string tip = fmt::format("{}, {}: {}", html_escape(labels[i]), html_escape(series[k].name), number(v, o));
      if (o.fit) {  // a dot per series on an axis that does not start at 0: a bar's length would mislead
        if (!std::isfinite(v)) continue;
        lo_v = std::min(lo_v, v);
        hi_v = std::max(hi_v, v);
        s += fmt::format(R"svg(<circle class="bar" cx="{}" cy="{}" r="5" fill="{}"><title>{}</title></circle>)svg",
                         x0 + sc.at(v), y + row_h / 2, kColors[k % 5], tip);
        continue;
      }
      if (!std::isfinite(v)) {  // not measured: said, not drawn
        s += fmt::format(R"svg(<text class="value" x="{}" y="{}" font-size="10" fill="#444">{}</text>)svg", x0 + 4,
                         by + bar_h - 1, number(v, o));
        continue;
      }
      // A bar is at least 2 px long so that a tiny value (1e-15 after recalibration) stays visible.
      const int len = std::max(2, sc.at(v));
      s += fmt::format(R"svg(<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>)svg",
                       x0, by, len, bar_h, kColors[k % 5], tip);
      s += fmt::format(R"svg(<text class="value" x="{}" y="{}" font-size="10" fill="#444">{}</text>)svg", x0 + len + 4,
                       by + bar_h - 1, number(v, o));
    }
    if (o.fit && hi_v > lo_v)
      s += fmt::format(R"svg(<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#999" stroke-width="2"/>)svg",
                       x0 + sc.at(lo_v) + 5, y + row_h / 2, x0 + sc.at(hi_v) - 5);
  }
  s += fmt::format(R"svg(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#333"/>)svg", x0, top, top + plot_h);
  s += threshold_lines_vertical(sc, o, x0, top, top + plot_h);
  s += fmt::format(R"svg(<text class="axis-title" x="{}" y="{}" font-size="12" text-anchor="middle">{}</text>)svg",
                   x0 + plot_w / 2, top + plot_h + 36, axis_title(o, sc));
  return figure(title, s + "</svg>", series);
}

std::string svg_lines(const std::string& title, const std::vector<double>& x, const std::vector<Series>& series,
                      const ChartOptions& o) {
  const int left = 70, right = 30, top = 44, plot_h = 260;
  const int plot_w = kWidth - left - right;
  const int height = top + plot_h + 46;
  const Scale sc = make_scale(series, o, plot_h);
  std::string s = fmt::format(R"svg(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}">)svg",
                              kWidth, height);
  auto px = [&](size_t i) { return left + (x.size() > 1 ? static_cast<int>(plot_w * i / (x.size() - 1)) : plot_w / 2); };
  auto py = [&](double v) { return top + plot_h - sc.at(v); };
  for (double t : sc.ticks)
    s += fmt::format(R"svg(<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#e3e3e3"/><text class="tick" x="{3}" y="{4}" font-size="11" text-anchor="end">{5}</text>)svg",
                     left, py(t), left + plot_w, left - 6, py(t) + 4, tick_label(t, o));
  for (size_t i = 0; i < x.size(); ++i)
    s += fmt::format(R"svg(<text class="tick" x="{}" y="{}" font-size="11" text-anchor="middle">{:g}</text>)svg", px(i),
                     top + plot_h + 16, x[i]);
  s += fmt::format(R"svg(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#333"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#333"/>)svg",
                   left, top, top + plot_h, left + plot_w);
  // The value axis' title above it, horizontal; the x axis' below.
  s += fmt::format(R"svg(<text class="axis-title" x="{}" y="{}" font-size="12">{}</text>)svg", left - 60, top - 22,
                   axis_title(o, sc));
  if (!o.x_title.empty())
    s += fmt::format(R"svg(<text class="axis-title" x="{}" y="{}" font-size="12" text-anchor="middle">{}</text>)svg",
                     left + plot_w / 2, top + plot_h + 38, html_escape(o.x_title));
  for (const auto& t : o.thresholds) {
    const int y = py(t.value);
    s += fmt::format(R"svg(<line class="threshold" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#b04a4a" stroke-dasharray="6 4"/><text class="label" x="{}" y="{}" font-size="11" fill="#b04a4a" text-anchor="end">{}</text>)svg",
                     left, y, left + plot_w, y, left + plot_w, y - 4, html_escape(t.label));
  }
  for (size_t k = 0; k < series.size(); ++k) {
    std::string pts;
    for (size_t i = 0; i < x.size() && i < series[k].values.size(); ++i) {
      const double v = series[k].values[i];
      pts += fmt::format("{},{} ", px(i), py(v));
      s += fmt::format(R"svg(<circle class="point" cx="{}" cy="{}" r="3.5" fill="{}"><title>{}, {:g}: {}</title></circle>)svg",
                       px(i), py(v), kColors[k % 5], html_escape(series[k].name), x[i], number(v, o));
    }
    s += fmt::format(R"svg(<polyline class="line" points="{}" fill="none" stroke="{}" stroke-width="2"/>)svg", pts,
                     kColors[k % 5]);
  }
  return figure(title, s + "</svg>", series);
}

}  // namespace bnfold
