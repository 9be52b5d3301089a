// GET /: a page an operator leaves open. Per model: the requests and
// monitoring counts, then the drift report's plots and table for the
// sliding window (the drift report's sections, the same as
// `bnfold drift --html`), reloaded every page_refresh_s seconds.
#include <fmt/format.h>

#include "api/serve/server_impl.hpp"
#include "bnfold/analysis/html.hpp"
#include "bnfold/graph/error.hpp"

namespace bnfold {

std::string Server::Impl::live_page() const {
  std::vector<std::string> paragraphs = {"", fmt::format(
      "{} model{} served; metrics for Prometheus at /metrics, drift JSON at "
      "/v2/models/NAME/drift?window=sliding|since_start.{}",
      services.size(), services.size() == 1 ? "" : "s",
      options.page_refresh_s > 0 ? fmt::format(" This page reloads every {:g} s.", options.page_refresh_s) : "")};
  HtmlSections sections;
  std::string& summary = paragraphs[0];  // each model's verdict, in one line
  for (const auto& m : services) {
    const serve::ModelService::Counters c = m->counters();
    std::string body = html_table({{"requests", "failed", "samples", "runs", "monitored samples", "queued"},
                                   {std::to_string(c.requests), std::to_string([&] {
                                      uint64_t f = 0;
                                      for (const auto& [code, n] : c.failures) f += n;
                                      return f;
                                    }()),
                                    std::to_string(c.samples), std::to_string(c.runs),
                                    std::to_string(c.monitored_samples), std::to_string(c.queued)}});
    std::string heading = m->name();
    try {
      const DriftReport r = m->drift(DriftWindow::Sliding).report;
      heading += std::string(": ") + to_string(r.verdict) + fmt::format(" (sliding window, {} samples)", r.samples);
      for (const std::string& p : drift_html_paragraphs(r)) body += "<p>" + html_escape(p) + "</p>";
      for (const auto& [h, html] : drift_html_sections(r)) body += "<h3>" + html_escape(h) + "</h3>" + html;
    } catch (const Error& e) {
      heading += ": nothing measured yet";
      body += "<p>" + html_escape(e.what()) + "</p>";
    }
    summary += (summary.empty() ? "" : "; ") + heading;
    sections.emplace_back(heading, body);
  }
  if (summary.empty()) summary = "No model served.";
  const std::string head =
      options.page_refresh_s > 0 ? fmt::format("<meta http-equiv=\"refresh\" content=\"{:g}\">", options.page_refresh_s) : "";
  return html_page("bnfold serve", paragraphs, sections, head);
}

}  // namespace bnfold
