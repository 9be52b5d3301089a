// The machine's float32 FMA peak: each thread runs independent chains of
// fused multiply-adds on registers only (no memory traffic), with 256-bit
// (AVX2+FMA) and, where the CPU has it, 512-bit (AVX-512F) vectors. The
// measured peak is the yardstick for a compute-bound model's GFLOP/s (the
// side-by-side table's "% of peak"). This measures the hardware, so it asks
// the CPU which instructions it has; nothing in the runtime does.
//
//   build/bnfold_fma_peak              1 and 2 threads (and every core)
//   build/bnfold_fma_peak --json       for tools/benchmarks/vs_onnxruntime.py
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// Enough independent accumulators to cover the FMA latency (4 cycles) on
// two pipes: 12 chains per thread.
constexpr int kChains = 12;
constexpr long kIterations = 100'000'000;  // ~0.1-0.3 s per try

__attribute__((target("avx2,fma"))) float run_avx2(long iterations) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long n = 0; n < iterations; ++n)
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];  // used, so the loop is not removed
}

__attribute__((target("avx512f"))) float run_avx512(long iterations) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long n = 0; n < iterations; ++n)
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0];  // every chain used, so none is removed
}

// GFLOP/s of `threads` threads each running `run`, best of 3 (the peak is
// what the machine can do; a slower try means something else ran).
double gflops(float (*run)(long), int lanes, int threads) {
  double best = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<std::thread> pool;
    std::vector<float> sink(static_cast<size_t>(threads));
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { sink[static_cast<size_t>(t)] = run(kIterations); });
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double flops = 2.0 * kChains * lanes * static_cast<double>(kIterations) * threads;
    if (sink[0] != 12345.0f) best = std::max(best, flops / s / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = argc > 1 && std::strcmp(argv[1], "--json") == 0;
  if (argc > 1 && !json) {
    std::printf("usage: bnfold_fma_peak [--json]\n  the machine's float32 FMA peak, 1 and 2 threads and every core\n");
    return std::strcmp(argv[1], "--help") == 0 ? 0 : 2;
  }
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::fprintf(stderr, "bnfold_fma_peak: this CPU has no AVX2 + FMA\n");
    return 1;
  }
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> counts = {1, 2};
  if (cores > 2) counts.push_back(cores);
  std::string rows;
  double peak2 = 0;
  if (!json) std::printf("float32 FMA peak, GFLOP/s (%d chains per thread, best of 3)\n", kChains);
  for (int threads : counts) {
    const double v256 = gflops(run_avx2, 8, threads);
    const double v512 = avx512 ? gflops(run_avx512, 16, threads) : 0.0;
    const double peak = std::max(v256, v512);
    if (threads == 2) peak2 = peak;
    if (json) {
      rows += std::string(rows.empty() ? "" : ", ") + "{\"threads\": " + std::to_string(threads) +
              ", \"avx2\": " + std::to_string(v256) + ", \"avx512\": " + std::to_string(v512) +
              ", \"peak\": " + std::to_string(peak) + "}";
    } else {
      std::printf("  %2d thread%s  AVX2 %7.1f", threads, threads == 1 ? " " : "s", v256);
      if (avx512) std::printf("   AVX-512 %7.1f", v512);
      std::printf("   peak %7.1f\n", peak);
    }
  }
  if (json) std::printf("{\"avx512\": %s, \"peak_2_threads\": %f, \"rows\": [%s]}\n", avx512 ? "true" : "false", peak2,
                        rows.c_str());
  return 0;
}
