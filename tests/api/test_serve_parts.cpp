// The server's parts on their own: the Prometheus exposition, the KServe v2
// bodies, the monitor's windows; and the Server embedded in a program, asked
// over real HTTP on the loopback (tests/tools/serve/ runs the CLI end to end).
#include <catch2/catch.hpp>
#include <httplib.h>

#include <chrono>
#include <string>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/serve/kserve.hpp"
#include "api/serve/metrics.hpp"
#include "api/serve/monitor.hpp"
#include "bnfold/serve/server.hpp"

using namespace bnfold;
using namespace bnfold::serve;

TEST_CASE("exposition: escaped label values, cumulative histogram buckets, special values", "[serve]") {
  Histogram h({0.1, 1});
  for (double v : {0.05, 0.1, 0.5, 3.0}) h.observe(v);
  Exposition e;
  e.family("x_seconds", "histogram", "a help with \\ and\nnewline");
  e.histogram("x_seconds", {{"bn", "a\"b\\c\nd"}}, h.counts());
  e.family("y", "gauge", "y");
  e.sample("y", {}, std::nan(""));
  const std::string t = e.text();
  CHECK(t.find("# HELP x_seconds a help with \\\\ and\\nnewline\n") != std::string::npos);
  CHECK(t.find("x_seconds_bucket{bn=\"a\\\"b\\\\c\\nd\",le=\"0.1\"} 2\n") != std::string::npos);  // 0.1 is <= 0.1
  CHECK(t.find("le=\"1\"} 3\n") != std::string::npos);
  CHECK(t.find("le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(t.find("x_seconds_count{bn=\"a\\\"b\\\\c\\nd\"} 4\n") != std::string::npos);
  CHECK(t.find("x_seconds_sum{bn=\"a\\\"b\\\\c\\nd\"} 3.65\n") != std::string::npos);
  CHECK(t.find("y NaN\n") != std::string::npos);
  CHECK(format_value(1796559530.25) == "1796559530.25");  // no digits lost to %g
  CHECK(format_value(42) == "42");
}

TEST_CASE("KServe v2 bodies: nested and flat data, binary inputs, fp16, and what is refused", "[serve]") {
  const Limits limits{1000};
  ParsedInfer p = parse_infer(
      R"({"id":"r1","inputs":[{"name":"a","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]},
                              {"name":"b","shape":[3],"datatype":"BOOL","data":[true,false,1]},
                              {"name":"h","shape":[1],"datatype":"FP16","data":[0.5]}],
         "outputs":[{"name":"o","parameters":{"binary_data":true}}]})", -1, limits);
  CHECK(p.id == "r1");
  const Tensor& a = p.request.inputs.at("a");
  CHECK(a.dims() == std::vector<int64_t>{2, 2});
  CHECK(a.data_as<float>()[3] == 4.0f);
  CHECK(p.request.inputs.at("b").data_as<bool>()[2]);
  CHECK(half_to_float(p.request.inputs.at("h").data_as<uint16_t>()[0]) == 0.5f);
  CHECK(p.binary_outputs.at("o"));

  // Binary: the JSON, then each binary input's bytes in input order.
  const std::string head = R"({"inputs":[{"name":"x","shape":[2],"datatype":"INT64","parameters":{"binary_data_size":16}}]})";
  const int64_t v[2] = {-7, 1LL << 40};
  std::string body = head + std::string(reinterpret_cast<const char*>(v), 16);
  ParsedInfer b = parse_infer(body, static_cast<int64_t>(head.size()), limits);
  CHECK(b.request.inputs.at("x").data_as<int64_t>()[1] == (1LL << 40));

  auto status_of = [&](const std::string& text, int64_t json_length = -1) {
    try {
      parse_infer(text, json_length, limits);
    } catch (const HttpError& e) {
      return e.status;
    }
    return 200;
  };
  CHECK(status_of(body + "x", static_cast<int64_t>(head.size())) == 400);  // a byte nobody claims
  CHECK(status_of(body.substr(0, body.size() - 1), static_cast<int64_t>(head.size())) == 400);  // cut short
  CHECK(status_of(body, 100000) == 400);  // header length past the body
  CHECK(status_of(R"({"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[]}]})") == 400);
  CHECK(status_of(R"({"inputs":[{"name":"x","shape":[2000],"datatype":"FP32","data":[]}]})") == 413);
  CHECK(status_of(R"({"inputs":[{"name":"x","shape":[4611686018427387904,4],"datatype":"FP32","data":[]}]})") == 413);
  CHECK(status_of(R"({"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a"]}]})") == 400);
  CHECK(status_of(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},
                                {"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})") == 400);
  CHECK(status_of(R"([1,2])") == 400);
  CHECK(status_of(std::string(100, '[')) == 400);
}

TEST_CASE("render: binary outputs follow the JSON in the order asked, JSON outputs carry data", "[serve]") {
  Tensor y(DType::Float32, {1, 2});
  y.mutable_data_as<float>()[0] = 1.5f;
  y.mutable_data_as<float>()[1] = -2.0f;
  Tensor z(DType::Int64, {1});
  z.mutable_data_as<int64_t>()[0] = 9;
  ParsedInfer asked;
  asked.outputs = {"z", "y"};
  asked.binary_outputs = {{"z", false}, {"y", true}};
  const std::vector<TensorSpec> specs = {{"y", DType::Float32, {}}, {"z", DType::Int64, {}}};
  InferReply r = render_infer("m", asked, {{"y", y}, {"z", z}}, specs);
  REQUIRE(r.json_length > 0);
  const auto doc = nlohmann::json::parse(r.body.substr(0, static_cast<size_t>(r.json_length)));
  CHECK(doc["outputs"][0]["data"] == nlohmann::json::array({9}));
  CHECK(doc["outputs"][1]["parameters"]["binary_data_size"] == 8);
  float back[2];
  std::memcpy(back, r.body.data() + r.json_length, 8);
  CHECK((back[0] == 1.5f && back[1] == -2.0f));
  asked.outputs = {"w"};
  CHECK_THROWS_AS(render_infer("m", asked, {{"y", y}}, specs), HttpError);
}

TEST_CASE("monitor: the sliding window forgets, since-start keeps, snapshots are disjoint", "[serve]") {
  Monitor m(0.4, "m", "", "test");
  BnMoments run;
  run.add("bn", 10, {1.0}, {2.0});
  m.add(run, 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // past the 0.4 s window
  BnInputStats first = m.take_interval();
  m.add(run, 3);
  CHECK(m.stats(DriftWindow::SinceStart).samples == 8);
  CHECK(m.stats(DriftWindow::Sliding).samples == 3);
  CHECK(first.samples == 5);
  CHECK(m.take_interval().samples == 3);
  CHECK(m.take_interval().samples == 0);
  CHECK(m.stats(DriftWindow::SinceStart).per_bn.at("bn").count == 20);
}

TEST_CASE("Server embedded: infer over HTTP equals Session::run, metrics count it, stop answers and snapshots", "[serve]") {
  const std::string model = std::string(BNFOLD_MODELS_DIR) + "/mlp_bn.onnx";
  ServerOptions o;
  o.port = 0;
  o.threads = 1;
  Server server({{model, "mlp", ""}}, o);
  server.start();
  REQUIRE(server.port() > 0);
  httplib::Client client("127.0.0.1", server.port());
  std::vector<float> x(2 * 20);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) * 0.3f - 1.0f;
  nlohmann::json req = {{"inputs", {{{"name", "input"}, {"shape", {2, 20}}, {"datatype", "FP32"}, {"data", x}}}}};
  auto res = client.Post("/v2/models/mlp/infer", req.dump(), "application/json");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const auto doc = nlohmann::json::parse(res->body);
  Session session(model);
  const auto want = session.run({{"input", Tensor::borrow(DType::Float32, {2, 20}, x.data())}}).at("output");
  const auto got = doc["outputs"][0]["data"].get<std::vector<float>>();
  REQUIRE(got.size() == static_cast<size_t>(want.numel()));
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(want.data_as<float>()[i]).margin(1e-5));
  CHECK(server.metrics().find("bnfold_samples_total{model=\"mlp\"} 2\n") != std::string::npos);
  CHECK(server.drift("mlp", DriftWindow::SinceStart).stats.samples == 2);
  CHECK_THROWS_AS(server.drift("nope", DriftWindow::SinceStart), Error);
  BnInputStats snap;
  server.snapshot("mlp", &snap);
  CHECK(snap.samples == 2);
  server.stop();
  CHECK_FALSE(client.Get("/v2/health/live"));  // no longer listening
  server.stop();  // idempotent
}

TEST_CASE("KServe v2 values a datatype cannot hold are refused, not wrapped", "[serve]") {
  auto status_of = [](const std::string& datatype, const std::string& value) {
    try {
      parse_infer(R"({"inputs":[{"name":"x","shape":[1],"datatype":")" + datatype + R"(","data":[)" + value + "]}]}",
                  -1, Limits{10});
    } catch (const HttpError& e) {
      return e.status;
    }
    return 200;
  };
  CHECK(status_of("INT8", "127") == 200);
  CHECK(status_of("INT8", "128") == 400);
  CHECK(status_of("INT8", "-129") == 400);
  CHECK(status_of("INT32", "1.5") == 400);
  CHECK(status_of("INT64", "2.0") == 200);
  CHECK(status_of("UINT8", "-1") == 400);
  CHECK(status_of("UINT64", "18446744073709551615") == 200);
  CHECK(status_of("INT64", "18446744073709551615") == 400);
  CHECK(status_of("FP32", "null") == 400);
  CHECK(status_of("BOOL", "0") == 200);
}

TEST_CASE("KServe v2 fields of the wrong JSON type are a 400, not a server error", "[serve]") {
  for (const char* body : {R"({"inputs":[],"parameters":{"binary_data_output":"yes"}})",
                           R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],
                               "outputs":[{"name":"y","parameters":{"binary_data":3}}]})",
                           R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],
                               "parameters":{"binary_data_size":"4"}}]})"}) {
    INFO(body);
    try {
      parse_infer(body, -1, Limits{10});
      FAIL("accepted");
    } catch (const HttpError& e) {
      CHECK(e.status == 400);
    }
  }
}

TEST_CASE("Server embedded: a run never holds more than max_batch samples, and max_batch 1 runs each request alone",
          "[serve]") {
  const std::string model = std::string(BNFOLD_MODELS_DIR) + "/mlp_bn.onnx";
  for (int64_t max_batch : {1, 2}) {
    ServerOptions o;
    o.port = 0;
    o.threads = 1;
    o.max_batch = max_batch;
    o.max_delay_ms = 200;  // long enough that the six requests below meet in the queue
    Server server({{model, "mlp", ""}}, o);
    server.start();
    nlohmann::json req = {{"inputs", {{{"name", "input"}, {"shape", {1, 20}}, {"datatype", "FP32"},
                                      {"data", std::vector<float>(20, 0.5f)}}}}};
    std::vector<std::thread> clients;
    std::vector<int> status(6, 0);
    for (size_t i = 0; i < status.size(); ++i)
      clients.emplace_back([&, i] {
        httplib::Client client("127.0.0.1", server.port());
        auto res = client.Post("/v2/models/mlp/infer", req.dump(), "application/json");
        status[i] = res ? res->status : -1;
      });
    for (auto& c : clients) c.join();
    server.stop();
    CHECK(status == std::vector<int>(6, 200));
    const std::string m = server.metrics();
    INFO(m);
    // Every run is in the bucket of max_batch: none held more.
    auto value_of = [&](const std::string& series) {
      const size_t at = m.find(series + " ");
      return at == std::string::npos ? -1.0 : std::stod(m.substr(at + series.size() + 1));
    };
    const double runs = value_of("bnfold_batch_size_count{model=\"mlp\"}");
    CHECK(runs >= (max_batch == 1 ? 6 : 3));
    CHECK(value_of("bnfold_batch_size_bucket{model=\"mlp\",le=\"" + std::to_string(max_batch) + "\"}") == runs);
    CHECK(m.find("bnfold_samples_total{model=\"mlp\"} 6\n") != std::string::npos);
  }
}
