// The HTTP endpoints: KServe v2 (health, metadata, infer), and bnfold's own
// (drift, snapshot, /metrics, the live page). Every error is v2 error JSON,
// {"error": "..."}, with a 4xx status when the request is at fault.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "api/serve/kserve.hpp"
#include "api/serve/server_impl.hpp"
#include "bnfold/analysis/report_json.hpp"
#include "bnfold/graph/error.hpp"
#include "bnfold/version.hpp"

namespace bnfold {

namespace {

using serve::HttpError;
const char* kJson = "application/json";
const std::string kModel = R"(/v2/models/([^/]+)(?:/versions/[^/]+)?)";

void reply_error(httplib::Response& res, const HttpError& e) {
  res.status = e.status;
  if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
  res.set_content(serve::error_body(e.message), kJson);
}

// What an exception means for the client: its fault (400), our limits (503), or ours (500).
HttpError as_http_error(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const HttpError& e) {
    return e;
  } catch (const Error& e) {
    switch (e.code()) {
      case ErrorCode::InvalidArgument:
      case ErrorCode::Unsupported:
      case ErrorCode::NeedsInputValue: return {400, e.what()};
      case ErrorCode::ResourceLimit: return {503, e.what(), 5};
      default: return {500, e.what()};
    }
  } catch (const std::exception& e) {
    return {500, e.what()};
  } catch (...) {
    return {500, "an unknown error"};
  }
}

// Runs `handler`, answering whatever it throws as v2 error JSON; returns the status.
template <typename F>
int answer(httplib::Response& res, F&& handler) {
  try {
    handler();
  } catch (...) {
    reply_error(res, as_http_error(std::current_exception()));
  }
  return res.status < 0 ? 200 : res.status;
}

int64_t header_length(const httplib::Request& req) {
  if (!req.has_header("Inference-Header-Content-Length")) return -1;
  const std::string v = req.get_header_value("Inference-Header-Content-Length");
  try {
    size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (used == v.size() && n >= 0) return n;
  } catch (const std::exception&) {
  }
  throw HttpError{400, fmt::format("Inference-Header-Content-Length '{}' is not a byte count", v)};
}

std::string read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                      size_t max_bytes) {
  if (req.is_multipart_form_data())
    throw HttpError{415, "a v2 request is JSON (or JSON and binary tensors), not a multipart form"};
  std::string body;
  bool too_big = false;
  const bool read = reader([&](const char* data, size_t n) {
    too_big = body.size() + n > max_bytes;
    if (!too_big) body.append(data, n);
    return !too_big;
  });
  if (too_big || res.status == 413) {
    res.set_header("Connection", "close");  // the rest of the body is not read
    throw HttpError{413, fmt::format("the request body is over the server's limit of {} bytes (--max-body-mb)", max_bytes)};
  }
  if (!read) throw HttpError{400, "the request body could not be read (a POST needs a Content-Length or chunks)"};
  return body;
}

DriftWindow window_of(const httplib::Request& req) {
  const std::string w = req.has_param("window") ? req.get_param_value("window") : "since_start";
  if (w == "since_start") return DriftWindow::SinceStart;
  if (w == "sliding") return DriftWindow::Sliding;
  throw HttpError{400, fmt::format("window '{}' is neither since_start nor sliding", w)};
}

}  // namespace

void Server::Impl::add_routes() {
  http.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"live":true})", kJson);
  });
  http.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& res) {
    res.status = ready ? 200 : 503;
    res.set_content(ready ? R"({"ready":true})" : R"({"ready":false})", kJson);
  });
  http.Get("/v2", [](const httplib::Request&, httplib::Response& res) {
    nlohmann::json doc = {{"name", "bnfold"}, {"version", BNFOLD_VERSION_STRING},
                          {"extensions", {"binary_tensor_data", "bnfold_drift", "bnfold_snapshot"}}};
    res.set_content(doc.dump(), kJson);
  });
  http.Get(kModel, [this](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] {
      serve::ModelService& m = service(req.matches[1]);
      res.set_content(serve::model_metadata(m.name(), m.session(), m.batchable(), options.max_batch), kJson);
    });
  });
  http.Get(kModel + "/ready", [this](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] {
      serve::ModelService& m = service(req.matches[1]);
      res.status = ready ? 200 : 503;
      res.set_content(nlohmann::json{{"name", m.name()}, {"ready", ready.load()}}.dump(), kJson);
    });
  });
  // POST bodies are read here, not by httplib: it would parse a body sent
  // as a form (curl -d's default Content-Type) and refuse one over 8 KB.
  http.Post(kModel + "/infer", [this](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& reader) {
    const auto t0 = serve::Clock::now();
    serve::ModelService* m = nullptr;
    const int status = answer(res, [&] {
      m = &service(req.matches[1]);
      const std::string body = read_body(req, res, reader, options.max_body_bytes);
      serve::ParsedInfer p = serve::parse_infer(body, header_length(req), {options.max_elements});
      m->validate(p.request);
      serve::InferOutputs outputs = m->submit(std::move(p.request)).get();
      serve::InferReply r = serve::render_infer(m->name(), p, outputs, m->session().outputs());
      if (r.json_length >= 0) res.set_header("Inference-Header-Content-Length", std::to_string(r.json_length));
      res.set_content(r.body, r.content_type.c_str());
    });
    if (!m) {
      ++unknown_model_requests;
      return;
    }
    m->count_request(status);
    m->latency.observe(std::chrono::duration<double>(serve::Clock::now() - t0).count());
  });
  http.Get(kModel + "/drift", [this](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] {
      serve::ModelService& m = service(req.matches[1]);
      const DriftWindow w = window_of(req);
      try {
        res.set_content(drift_json(m.drift(w).report), kJson);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::InvalidArgument) throw;
        // Nothing measured yet: the verdict a monitor can give, with why.
        nlohmann::json doc = {{"model", m.name()}, {"window", to_string(w)}, {"verdict", "too-few-samples"},
                              {"samples", 0}, {"summary", {e.what()}}, {"layers", nlohmann::json::array()}};
        res.set_content(doc.dump(), kJson);
      }
    });
  });
  http.Post(kModel + "/snapshot", [this](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) {
    answer(res, [&] {
      serve::ModelService& m = service(req.matches[1]);
      read_body(req, res, reader, 1 << 16);  // nothing is expected in it
      BnInputStats stats;
      const std::string path = snapshot(m, &stats);
      if (stats.samples == 0)
        throw HttpError{409, fmt::format("model '{}' has measured nothing since the previous snapshot", m.name())};
      if (!path.empty()) res.set_header("X-Bnfold-Snapshot-File", path);
      res.set_content(stats.to_json(), kJson);
    });
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(live_page(), "text/html; charset=utf-8");
  });
  // Errors httplib answers itself (unknown path, body over the limit, a
  // malformed request line) get a v2 error body too.
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string why = res.status == 404   ? fmt::format("no endpoint {} {} (see GET /v2 and /v2/models/NAME)", req.method, req.path)
                      : res.status == 413 ? "the request body is over the server's limit (--max-body-mb)"
                      : res.status == 400 ? "a malformed HTTP request (a POST needs a body or Content-Length: 0)"
                                          : fmt::format("HTTP {}", res.status);
    res.set_content(serve::error_body(why), kJson);
    return httplib::Server::HandlerResponse::Handled;
  }));
}

}  // namespace bnfold
