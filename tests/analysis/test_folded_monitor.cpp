// Monitoring a folded model: `fold` records where each removed BN can still
// be measured (graph/folded_bns.hpp), and the session's statistics of the
// folded model equal those of the model before folding.
#include <catch2/catch.hpp>

#include <cmath>
#include <thread>

#include "bnfold/analysis/bn_analysis.hpp"
#include "bnfold/graph/folded_bns.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/passes/fold.hpp"
#include "tests/model_builder.hpp"
#include "tests/onnx_builder.hpp"

using namespace bnfold;
using Catch::Matchers::Contains;
using test::ints;

namespace {

// Every way a BN leaves the graph: folded forward into an unpadded Conv (it
// measures the graph input), folded into its Conv (measures the Conv's
// output, mapped back) before a Relu and before a residual Add, and a
// scale-shift after a Concat (measures the Concat).
struct AllFolds : test::TestModel {
  AllFolds() : TestModel(15) {
    Value* x = input("x", {2, 3, 12, 12});
    Value* b0 = bn(x, 3, "bn0");
    Value* c0 = node("Conv", {b0, weight("w0", {8, 3, 1, 1}), weight("b0w", {8})});
    Value* c1 = node("Conv", {c0, weight("w1", {8, 8, 3, 3}), weight("b1", {8})}, {{"pads", ints({1, 1, 1, 1})}});
    Value* r1 = node("Relu", {bn(c1, 8, "bn1")});
    Value* c2 = node("Conv", {r1, weight("w2", {8, 8, 1, 1})});
    Value* cat = node("Concat", {r1, c2}, {{"axis", Attribute::of_int(1)}});
    Value* s2 = node("Relu", {bn(cat, 16, "bn2")});
    Value* c3 = node("Conv", {s2, weight("w3", {8, 16, 3, 3}), weight("b3", {8})}, {{"pads", ints({1, 1, 1, 1})}});
    Value* sum = node("Add", {bn(c3, 8, "bn3"), r1});
    output(node("Relu", {sum}, "y"));
  }
};

std::shared_ptr<Graph> folded_copy(const Graph& g, FoldReport* report) {
  const std::string source = serialize_onnx(g);
  std::shared_ptr<Graph> f = std::shared_ptr<Graph>(load_onnx_bytes(source.data(), source.size(), "copy"));
  *report = fold_batchnorms(*f);
  // Through the file format: the records live in metadata_props.
  const std::string bytes = serialize_onnx(*f);
  return std::shared_ptr<Graph>(load_onnx_bytes(bytes.data(), bytes.size(), "folded"));
}

// Runs the same inputs through both sessions (monitoring every run).
void serve(const Session& a, const Session& b, const std::vector<Tensor>& inputs, const std::string& name) {
  for (const Tensor& t : inputs) {
    const auto ya = a.run({{name, t}}), yb = b.run({{name, t}});
    test::check_same_outputs(ya, yb, 1e-4, 1e-4);
  }
}

void check_close(const MonitorSnapshot& got, const MonitorSnapshot& want) {
  REQUIRE(got.per_bn.size() == want.per_bn.size());
  for (const auto& [bn, w] : want.per_bn) {
    INFO(bn);
    REQUIRE(got.per_bn.count(bn));
    const ChannelMoments& g = got.per_bn.at(bn);
    CHECK(g.count == w.count);
    const auto gv = g.variance(), wv = w.variance();
    for (size_t c = 0; c < w.mean.size(); ++c) {
      // Relative to the channel's spread: a mean near zero has no relative precision of its own.
      CHECK(std::fabs(g.mean[c] - w.mean[c]) <= 1e-6 * (std::fabs(w.mean[c]) + std::sqrt(wv[c])));
      CHECK(gv[c] == Approx(wv[c]).epsilon(1e-6));
    }
  }
}

}  // namespace

TEST_CASE("a folded model records where each removed BN can be measured", "[monitor][fold]") {
  AllFolds m;
  FoldReport report;
  const auto folded = folded_copy(*m.g, &report);
  CHECK(test::count_ops(*folded, "BatchNormalization") == 0);
  CHECK(report.count(FoldAction::Folded) == 2);
  CHECK(report.count(FoldAction::FoldedForward) == 1);
  CHECK(report.count(FoldAction::ScaleShift) == 1);
  const std::vector<FoldedBn> bns = folded_bns(*folded);
  REQUIRE(bns.size() == 4);
  for (const FoldedBn& f : bns) {
    INFO(f.bn);
    const bool after = f.bn == "bn1_node" || f.bn == "bn3_node";
    CHECK(f.output == after);
    CHECK(folded->find_value(f.value) != nullptr);
    CHECK(f.epsilon == Approx(1e-3));
  }
  // Folding again keeps the records; a malformed entry is refused by name.
  FoldReport again = fold_batchnorms(*folded);
  CHECK(folded_bns(*folded).size() == 4);
  set_metadata(*folded, kFoldedBnsKey, "{\"version\": 9}");
  CHECK_THROWS_WITH(folded_bns(*folded), Contains("bnfold.folded_batchnorms") && Contains("unknown version"));
}

TEST_CASE("the folded model's monitor equals the unfolded one's, also served from threads, and unmeasured runs "
          "keep their fusions",
          "[monitor][fold][threads]") {
  AllFolds m;
  FoldReport report;
  const auto folded = folded_copy(*m.g, &report);
  std::vector<Tensor> inputs;
  for (uint32_t s = 0; s < 6; ++s) inputs.push_back(test::random_tensor({2, 3, 12, 12}, 100 + s, -1.f, 3.f));
  for (int threads : {1, 2}) {
    SessionOptions o;
    o.threads = threads;
    o.monitor_every = 1;
    Session plain(m.g, o), fused(folded, o);
    serve(plain, fused, inputs, "x");
    const MonitorSnapshot want = plain.monitor(), got = fused.monitor();
    CHECK(got.sampled_runs == 6);
    check_close(got, want);
    // drift gives the same verdict on both, from the folded model's own records.
    DriftOptions few;
    few.min_samples = 4;
    const DriftReport a = compute_drift(*m.g, stats_from_monitor(want), few);
    const DriftReport b = compute_drift(*folded, stats_from_monitor(got), few);
    CHECK(a.verdict == b.verdict);
    REQUIRE(a.layers.size() == b.layers.size());
    for (size_t k = 0; k < a.layers.size(); ++k) {
      CHECK(b.layers[k].bn == a.layers[k].bn);
      CHECK(b.layers[k].distance == Approx(a.layers[k].distance).epsilon(1e-5).margin(1e-9));
    }
  }
  // 4 threads x 12 runs, one in 2 measured: each input measured 4 times over.
  {
    SessionOptions o;
    o.threads = 1;
    o.monitor_every = 2;
    Session fused(folded, o);
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t)
      pool.emplace_back([&] {
        for (size_t r = 0; r < 12; ++r) fused.run({{"x", inputs[r % inputs.size()]}});
      });
    for (auto& th : pool) th.join();
    CHECK(fused.monitor().runs == 48);
    CHECK(fused.monitor().sampled_runs == 24);
  }
  // The plan of unmeasured runs has no statistics step and fuses as before;
  // the measured plan keeps the measured values unfused.
  SessionOptions o, measured;
  measured.collect_bn_stats = true;
  const std::map<std::string, Tensor> in = {{"x", inputs[0]}};
  const auto fast = Session(folded, o).plan_stats(in), slow = Session(folded, measured).plan_stats(in);
  CHECK(fast.statistics_steps == 0);
  CHECK(slow.statistics_steps == 4);
  CHECK(fast.steps < slow.steps);
  CHECK(fast.reference_steps == 0);
  CHECK(slow.reference_steps == 0);
}

TEST_CASE("statistics of a folded model on a file: save, load, merge with the unfolded model's", "[monitor][fold]") {
  AllFolds m;
  FoldReport report;
  const auto folded = folded_copy(*m.g, &report);
  SessionOptions o;
  o.monitor_every = 1;
  Session plain(m.g, o), fused(folded, o);
  serve(plain, fused, {test::random_tensor({2, 3, 12, 12}, 7)}, "x");
  BnInputStats a = stats_from_monitor(plain.monitor(), "unfolded"), b = stats_from_monitor(fused.monitor(), "folded");
  CHECK(a.bn_signature() == b.bn_signature());  // the same BNs: a model and its folded form
  test::TempDir dir;
  b.save(dir.file("folded.json"));
  BnInputStats merged = BnInputStats::load(dir.file("folded.json"));
  merged.merge(a);
  CHECK(merged.per_bn.at("bn1_node").count == 2 * a.per_bn.at("bn1_node").count);
}

// A plan stops before a NonZero that reads a folded BN's measured value: the
// plan after it receives that value and must not measure it again.
struct StopAfterFold : test::TestModel {
  StopAfterFold() : TestModel(15) {
    Value* x = input("x", {2, 3, 12, 12});
    Value* c1 = node("Conv", {x, weight("w1", {4, 3, 3, 3}), weight("b1", {4})}, {{"pads", ints({1, 1, 1, 1})}});
    Value* b1 = bn(c1, 4, "bn1");
    output(node("Relu", {b1}, "y"));
    output(node("NonZero", {b1}, "where"));
  }
};

TEST_CASE("a folded BN measured before a plan stops is counted once", "[monitor][fold][stages]") {
  StopAfterFold m;
  FoldReport report;
  const auto folded = folded_copy(*m.g, &report);
  REQUIRE(report.count(FoldAction::Folded) == 1);
  SessionOptions o;
  o.monitor_every = 1;
  Session plain(m.g, o), fused(folded, o);
  std::vector<Tensor> inputs;
  for (uint32_t s = 0; s < 3; ++s) inputs.push_back(test::random_tensor({2, 3, 12, 12}, 300 + s, -1.f, 1.f));
  serve(plain, fused, inputs, "x");
  const MonitorSnapshot got = fused.monitor();
  REQUIRE(got.per_bn.count("bn1_node"));
  CHECK(got.per_bn.at("bn1_node").count == 3 * 2 * 12 * 12);
  check_close(got, plain.monitor());
}
