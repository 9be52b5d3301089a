// Google Benchmark micro-benchmarks of bnfold's executor on single layers:
// what a 3x3 convolution costs with a BatchNormalization after it, folded
// into it, or left as a scale-shift. Run on demand (not a test):
//   build/bnfold_microbench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <random>

#include "bnfold/runtime/session.hpp"

using namespace bnfold;

namespace {

Tensor random(std::vector<int64_t> dims, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t(DType::Float32, std::move(dims));
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data_as<float>()[i] = u(rng);
  return t;
}

enum class Variant { ConvRelu, ConvBnRelu, ConvScaleShiftRelu };

// x[N,64,56,56] -> Conv 3x3 64->64 (pad 1) [-> BN | -> Mul+Add] -> Relu
std::shared_ptr<Graph> layer(Variant v) {
  auto g = std::make_shared<Graph>();
  g->info.opsets[""] = 13;
  Value* x = g->add_input("x", DType::Float32, Shape{true, {Dim::symbolic("N"), Dim::fixed(64), Dim::fixed(56), Dim::fixed(56)}});
  Node* conv = g->add_node("Conv", {x, g->add_constant("w", random({64, 64, 3, 3}, 1)), g->add_constant("b", random({64}, 2))},
                           {"c"}, "conv");
  conv->set_attr("pads", Attribute::of_ints({1, 1, 1, 1}));
  Value* y = conv->output(0);
  if (v == Variant::ConvBnRelu) {
    y = g->add_node("BatchNormalization",
                    {y, g->add_constant("s", random({64}, 3)), g->add_constant("t", random({64}, 4)),
                     g->add_constant("m", random({64}, 5)), g->add_constant("v", random({64}, 6, 0.5f, 2.f))},
                    {"bn"}, "bn")->output(0);
  } else if (v == Variant::ConvScaleShiftRelu) {
    // The scale-shift's producer output has a second use, so it cannot fuse.
    y = g->add_node("Mul", {y, g->add_constant("s", random({64, 1, 1}, 3))}, {"mul"})->output(0);
    y = g->add_node("Add", {y, g->add_constant("t", random({64, 1, 1}, 4))}, {"add"})->output(0);
    g->add_output(conv->output(0));
  }
  g->add_output(g->add_node("Relu", {y}, {"y"})->output(0));
  return g;
}

void run_layer(benchmark::State& state, Variant v) {
  SessionOptions o;
  o.threads = 2;
  Session s(layer(v), o);
  const int64_t n = state.range(0);
  const std::map<std::string, Tensor> in = {{"x", random({n, 64, 56, 56}, 7)}};
  s.run(in);  // creates the plan and warms up
  for (auto _ : state) benchmark::DoNotOptimize(s.run(in));
  const double flops = 2.0 * 64 * 64 * 9 * 56 * 56 * static_cast<double>(n);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e9,
                                                  benchmark::Counter::kIsRate);
}

void BM_Conv3x3_Relu(benchmark::State& s) { run_layer(s, Variant::ConvRelu); }
void BM_Conv3x3_BatchNorm_Relu(benchmark::State& s) { run_layer(s, Variant::ConvBnRelu); }
void BM_Conv3x3_ScaleShift_Relu(benchmark::State& s) { run_layer(s, Variant::ConvScaleShiftRelu); }

}  // namespace

BENCHMARK(BM_Conv3x3_Relu)->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv3x3_BatchNorm_Relu)->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv3x3_ScaleShift_Relu)->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
