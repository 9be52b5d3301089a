// The library's own entry points refuse what no front end may pass — a batch
// size below 1, options that are not numbers, absurd thread counts — so the
// CLI, Python and C get one check instead of three (and a hang or a crash
// where one was missing). And statistics that cannot be moments (counts that
// overflow, means that merge to infinity, spread from one value) are never
// kept.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <atomic>
#include <random>
#include <thread>

#include "bnfold/analysis/bn_analysis.hpp"
#include "bnfold/analysis/verify_fold.hpp"
#include "analysis/verify_inputs.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
#include "tests/onnx_builder.hpp"

using namespace bnfold;
using Catch::Matchers::Contains;

namespace {

const std::string kTiny = std::string(BNFOLD_MODELS_DIR) + "/tiny_resnet.onnx";
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

AnalysisModel tiny_model() { return AnalysisModel::load(kTiny); }

std::shared_ptr<Graph> tiny() { return tiny_model().copy(); }

Dataset samples(int64_t n) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  Tensor t(DType::Float32, {n, 3, 32, 32});
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data_as<float>()[i] = normal(rng);
  return Dataset::from_tensor(t);
}

ChannelMoments moments(int64_t count, std::vector<double> mean, std::vector<double> m2) {
  ChannelMoments m;
  m.count = count;
  m.mean = std::move(mean);
  m.m2 = std::move(m2);
  return m;
}

}  // namespace

TEST_CASE("every workflow refuses a batch size below 1 instead of looping or dividing by it",
          "[errors][inputs]") {
  const auto g = tiny();
  const Dataset data = samples(6);
  for (const int64_t bad : {int64_t{0}, int64_t{-4}, int64_t{1} << 40}) {
    CAPTURE(bad);
    const std::string says = "is outside [1, 2^31]";
    CHECK_THROWS_WITH(collect_bn_input_stats(g, data, bad, 1), Contains(says));
    CHECK_THROWS_WITH(data.for_each_batch(bad, [](int64_t, Tensor) {}), Contains(says));
    const std::unique_ptr<Graph> copy = clone_graph(*g);
    CHECK_THROWS_WITH(recalibrate(*copy, data, RecalibrationMode::Sequential, bad, 1), Contains(says));
    CHECK_THROWS_WITH(recalibrate(*copy, data, RecalibrationMode::UpdateBn, bad, 1), Contains(says));
    RecalibrateOptions ro;
    ro.batch = bad;
    CHECK_THROWS_WITH(recalibrate_model(tiny_model(), data, ro), Contains(says));
    AuditOptions ao;
    ao.batch_sizes = {2, bad};
    CHECK_THROWS_WITH(audit(tiny_model(), data, ao), Contains(says));
    const Session s(g);
    CHECK_THROWS_WITH(random_inputs(s, bad, 0), Contains(says));
    VerifyOptions vo;
    vo.batch = bad;
    CHECK_THROWS_WITH(verify_fold(*g, *g, nullptr, vo), Contains(says));
  }
  // The last batch is what is left; whole_only drops it.
  std::vector<int64_t> sizes;
  data.for_each_batch(4, [&](int64_t, Tensor t) { sizes.push_back(t.dims()[0]); });
  CHECK(sizes == std::vector<int64_t>{4, 2});
  sizes.clear();
  data.for_each_batch(4, [&](int64_t, Tensor t) { sizes.push_back(t.dims()[0]); }, true);
  CHECK(sizes == std::vector<int64_t>{4});
}

TEST_CASE("a model input declared with a dim of 0 gives no random inputs to verify with, and says so",
          "[errors][inputs]") {
  auto m = test::make_model();
  test::add_input(m, "x", {0, 3, 8, 8});
  test::add_float_initializer(m, "w", {4, 3, 1, 1}, std::vector<float>(12, 0.5f));
  test::add_node(m, "Conv", {"x", "w"}, {"y"});
  test::add_output(m, "y", {0, 4, 8, 8});
  test::TempDir dir;
  const std::unique_ptr<Graph> g(load_onnx(dir.write("zero.onnx", m)));
  CHECK_THROWS_WITH(verify_fold(*g, *g, nullptr), Contains("holds no values") && Contains("-i NAME=FILE"));
}

TEST_CASE("options that are not numbers, or out of their range, are refused by the library", "[errors][drift]") {
  const auto g = tiny();
  const Dataset data = samples(8);
  const BnInputStats stats = collect_bn_input_stats(g, data, 4, 1);
  const auto drift_with = [&](auto set) {
    DriftOptions o;
    set(o);
    return compute_drift(*g, stats, o);
  };
  CHECK_THROWS_WITH(drift_with([](DriftOptions& o) { o.threshold = kNaN; }), Contains("threshold nan"));
  CHECK_THROWS_WITH(drift_with([](DriftOptions& o) { o.threshold = 0; }), Contains("above 0"));
  CHECK_THROWS_WITH(drift_with([](DriftOptions& o) { o.threshold = kInf; }), Contains("finite"));
  CHECK_THROWS_WITH(drift_with([](DriftOptions& o) { o.min_effect = kNaN; }), Contains("min_effect nan"));
  CHECK_THROWS_WITH(drift_with([](DriftOptions& o) { o.min_samples = -1; }), Contains("min_samples -1"));
  CHECK_NOTHROW(drift_with([](DriftOptions& o) { o.min_effect = -1; }));  // the documented default
  AuditOptions ao;
  ao.tolerance = kNaN;
  CHECK_THROWS_WITH(audit(tiny_model(), data, ao), Contains("tolerance nan"));
  ao.tolerance = 0.05;
  ao.ablation_samples = -2;
  CHECK_THROWS_WITH(audit(tiny_model(), data, ao), Contains("ablation_samples -2"));
  RecalibrateOptions ro;
  for (const double bad : {kNaN, -0.1, 1.5}) {
    ro.max_eval_drop = bad;
    CHECK_THROWS_WITH(recalibrate_model(tiny_model(), data, ro), Contains("max_eval_drop"));
    CHECK_THROWS_WITH(recalibrate_model(tiny_model(), stats, ro), Contains("max_eval_drop"));
  }
  ro.max_eval_drop = 0.01;
  for (const double bad : {kNaN, -1.0, kInf}) {
    ro.prior = bad;
    CHECK_THROWS_WITH(recalibrate_model(tiny_model(), data, ro), Contains("prior"));
    CHECK_THROWS_WITH(recalibrate_model(tiny_model(), stats, ro), Contains("prior"));
  }
}

TEST_CASE("thread counts beyond what the machine can start are refused before OpenMP starts them",
          "[errors][threads]") {
  const auto g = tiny();
  for (const int bad : {-1, max_thread_count() + 1, 100000}) {
    CAPTURE(bad);
    SessionOptions o;
    o.threads = bad;
    CHECK_THROWS_WITH(Session(g, o), Contains("threads") && Contains("0 uses one per core"));
    // Every workflow that takes a thread count makes its sessions through this check.
    CHECK_THROWS_WITH(collect_bn_input_stats(g, samples(2), 2, bad), Contains("threads"));
  }
  CHECK(max_thread_count() >= 64);
}

TEST_CASE("profiling needs at least one iteration", "[errors][session]") {
  const Session s(tiny());
  const auto in = random_inputs(s, 1, 0);
  CHECK_THROWS_WITH(s.profile(in, 0), Contains("at least 1 iteration"));
  CHECK_THROWS_WITH(s.profile(in, -3), Contains("at least 1 iteration"));
  CHECK(s.profile(in, 1).size() > 0);
}

TEST_CASE("statistics that cannot be moments are refused, and a failed merge changes nothing", "[stats][errors]") {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  {  // counts that overflow
    ChannelMoments a = moments(kMax, {1.0}, {2.0}), b = moments(kMax, {1.0}, {2.0});
    CHECK_THROWS_WITH(a.merge(b), Contains("overflows"));
    CHECK(a.count == kMax);
    CHECK(a.mean == std::vector<double>{1.0});
  }
  {  // finite means that merge to infinity
    ChannelMoments a = moments(2, {1e308}, {0.0}), b = moments(2, {-1e308}, {0.0});
    CHECK_THROWS_WITH(a.merge(b), Contains("not finite"));
    CHECK(a.count == 2);
    CHECK(a.mean == std::vector<double>{1e308});
  }
  {  // a negative count
    ChannelMoments a = moments(2, {0.0}, {1.0}), b = moments(-3, {0.0}, {1.0});
    CHECK_THROWS_WITH(a.merge(b), Contains("negative"));
  }
  const auto g = tiny();
  BnInputStats s = collect_bn_input_stats(g, samples(4), 4, 1);
  {  // samples that overflow: the statistics stay as they were
    BnInputStats big = s;
    big.samples = kMax;
    BnInputStats before = s;
    CHECK_THROWS_WITH(s.merge(big), Contains("overflows"));
    CHECK(s.samples == before.samples);
    CHECK(s.per_bn.begin()->second.count == before.per_bn.begin()->second.count);
  }
  {  // the loader: spread from a single value is no moment (the checksum is right: to_json writes it)
    BnInputStats one = s;
    ChannelMoments& m = one.per_bn.begin()->second;
    m.count = 1;
    m.m2[0] = 0.5;
    CHECK_THROWS_WITH(BnInputStats::parse(one.to_json(), "one.json"), Contains("fewer than 2 values"));
    m.count = 0;
    CHECK_THROWS_WITH(BnInputStats::parse(one.to_json(), "zero.json"), Contains("fewer than 2 values"));
    m.m2[0] = 0;
    for (size_t c = 1; c < m.m2.size(); ++c) m.m2[c] = 0;
    CHECK_NOTHROW(BnInputStats::parse(one.to_json(), "ok.json"));
  }
}

TEST_CASE("a sample with a NaN or an infinity is refused by its number before it reaches any statistic",
          "[stats][errors][data]") {
  const auto g = tiny();
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    CAPTURE(bad);
    Tensor t = samples(6).batch(0, 6);
    t.mutable_data_as<float>()[3 * 3 * 32 * 32 + 17] = bad;  // sample 3, value 17
    const Dataset data = Dataset::from_tensor(t);
    // (Catch2's combined matchers hold their parts by reference: written out each time.)
#define SAYS Contains("sample 3 of") && Contains("value 17 of the sample")
    CHECK_THROWS_WITH(collect_bn_input_stats(g, data, 4, 1), SAYS);
    const std::unique_ptr<Graph> copy = clone_graph(*g);
    CHECK_THROWS_WITH(recalibrate(*copy, data, RecalibrationMode::Sequential, 4, 1), SAYS);
    CHECK_THROWS_WITH(recalibrate(*copy, data, RecalibrationMode::UpdateBn, 4, 1), SAYS);
    CHECK_THROWS_WITH(recalibrate_model(tiny_model(), data, RecalibrateOptions{}), SAYS);
    AuditOptions ao;
    ao.batch_sizes = {2};
    ao.ablation_samples = 0;
    CHECK_THROWS_WITH(audit(tiny_model(), data, ao), SAYS);
    // What the model gives on finite data but not numbers (an overflow) is refused when it is merged.
    ChannelMoments m = moments(4, {0.0}, {1.0});
    CHECK_THROWS_WITH(m.merge(moments(4, {static_cast<double>(bad)}, {1.0})), Contains("not finite"));
    CHECK(m.mean == std::vector<double>{0.0});
#undef SAYS
  }
}

TEST_CASE("reset_monitor while threads run: a snapshot never holds more sampled runs than runs",
          "[monitor][threads]") {
  SessionOptions o;
  o.threads = 1;
  o.monitor_every = 1;
  const Session s(tiny(), o);
  const auto in = random_inputs(s, 1, 0);
  std::atomic<bool> stop{false};
  std::vector<std::thread> serving;
  for (int t = 0; t < 3; ++t)
    serving.emplace_back([&] {
      for (int i = 0; i < 200 && !stop; ++i) s.run(in);
    });
  int bad = 0;
  for (int i = 0; i < 200; ++i) {
    s.reset_monitor();
    const MonitorSnapshot m = s.monitor();
    if (m.sampled_runs > m.runs) ++bad;
  }
  stop = true;
  for (auto& t : serving) t.join();
  CHECK(bad == 0);
  const MonitorSnapshot last = s.monitor();
  CHECK(last.sampled_runs <= last.runs);
}

TEST_CASE("an empty batch runs on the reference kernels instead of crashing oneDNN, and has no statistics",
          "[errors][inputs]") {
  // oneDNN 2.6 divides by M while it picks a MatMul for M = 0 (SIGFPE; found by fuzz_c_options).
  const auto mlp = std::shared_ptr<const Graph>(load_onnx(std::string(BNFOLD_MODELS_DIR) + "/mlp_bn.onnx"));
  const Session s(mlp);
  const Tensor empty(DType::Float32, {0, 20});
  const auto out = s.run({{"input", empty}});
  CHECK(out.at("output").dims() == std::vector<int64_t>{0, 5});
  BnStatsCollector c(mlp, 1);
  CHECK_THROWS_WITH(c.add(empty), Contains("a batch of [0,20] has no values"));
}
