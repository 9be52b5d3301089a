// The page around the charts (html_charts.cpp): one style for every report,
// the summary first, tables whose names read left-aligned.
#include "bnfold/analysis/html.hpp"

#include "bnfold/graph/atomic_file.hpp"

namespace bnfold {

namespace {

// Text 1000 px wide (a 1280 px window less margins); charts are 960 px.
const char* kStyle =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;font-size:14px;line-height:1.45;color:#222;margin:24px auto;"
    "max-width:1000px;padding:0 16px}"
    "h1{font-size:22px;margin:0 0 12px;overflow-wrap:anywhere}"
    "h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px;overflow-wrap:anywhere}"
    "h3{font-size:15px;margin:20px 0 6px;overflow-wrap:anywhere}"
    "p{margin:6px 0;overflow-wrap:anywhere}"
    "p.summary{font-size:16px;font-weight:bold;background:#f3f6fa;border-left:4px solid #3b6ea8;padding:8px 12px;"
    "margin:0 0 14px}"
    "figure.chart{margin:14px 0;width:960px}"
    "figcaption{font-weight:bold;font-size:14px;margin-bottom:4px}"
    "svg{display:block;font-family:'DejaVu Sans',Arial,sans-serif}"
    ".legend{font-size:12px;margin-top:2px}"
    ".legend span{display:inline-block;margin-right:18px}"
    ".legend i{display:inline-block;width:10px;height:10px;margin-right:5px;vertical-align:-1px}"
    "table{border-collapse:collapse;font-size:12px;margin:8px 0;max-width:100%}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}"
    "td.text{text-align:left;white-space:normal;overflow-wrap:break-word;min-width:12em}"
    "td:first-child,th:first-child{text-align:left;white-space:normal;overflow-wrap:anywhere}"
    "th{background:#eee}";

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

namespace {
// Numbers and short words keep one line, right-aligned; sentences wrap, left-aligned.
bool is_text(const std::string& cell) { return cell.size() > 24 && cell.find(' ') != std::string::npos; }
}  // namespace

std::string html_table(const std::vector<std::vector<std::string>>& rows) {
  std::string s = "<table>";
  for (size_t r = 0; r < rows.size(); ++r) {
    s += "<tr>";
    for (const auto& c : rows[r])
      s += (r == 0 ? "<th>" : is_text(c) ? "<td class=\"text\">" : "<td>") + html_escape(c) + (r == 0 ? "</th>" : "</td>");
    s += "</tr>";
  }
  return s + "</table>";
}

std::string html_page(const std::string& title, const std::vector<std::string>& paragraphs,
                      const HtmlSections& sections, const std::string& head) {
  std::string page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">" + head + "<title>" +
                     html_escape(title) + "</title><style>" + kStyle + "</style></head><body>";
  page += "<h1>" + html_escape(title) + "</h1>";
  for (size_t i = 0; i < paragraphs.size(); ++i)
    page += (i == 0 ? "<p class=\"summary\">" : "<p>") + html_escape(paragraphs[i]) + "</p>";
  for (const auto& [h, body] : sections) page += "<h2>" + html_escape(h) + "</h2>" + body;
  page += "</body></html>\n";
  return page;
}

void write_html(const std::string& path, const std::string& title, const std::vector<std::string>& paragraphs,
                const HtmlSections& sections) {
  write_file_atomic(path, html_page(title, paragraphs, sections));
}

}  // namespace bnfold
