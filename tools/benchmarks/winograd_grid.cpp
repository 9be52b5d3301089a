// Where oneDNN's Winograd convolution beats its direct one: a 3x3 stride-1
// convolution (+ ReLU) over a grid of batch sizes, output sides and channel
// counts, both in oneDNN's own layouts (format any), median of runs over at
// least 0.3 s each. The thresholds in runtime/dnnl/dnnl_conv.cpp
// (winograd_pays) come from this table. Run on demand (not a test):
//   ninja -C build bnfold_winograd_grid && OMP_NUM_THREADS=2 build/bnfold_winograd_grid
// "none" means oneDNN has no Winograd kernel here (it has them for AVX-512 only).
#include <dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct Timed {
  double ms;
  std::string impl;
};

Timed run(dnnl::engine& eng, dnnl::stream& s, dnnl::algorithm alg, int n, int c, int side, int o) {
  const dnnl::memory::desc x({n, c, side, side}, dt::f32, tag::any), w({o, c, 3, 3}, dt::f32, tag::any),
      y({n, o, side, side}, dt::f32, tag::any);
  const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, alg, x, w, y, {1, 1}, {1, 1}, {1, 1});
  dnnl::post_ops po;
  po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  const dnnl::convolution_forward::primitive_desc pd(d, attr, eng);
  dnnl::memory xm(pd.src_desc(), eng), wm(pd.weights_desc(), eng), ym(pd.dst_desc(), eng);
  for (auto* m : {&xm, &wm}) {
    float* p = static_cast<float*>(m->get_data_handle());
    std::fill(p, p + m->get_desc().get_size() / sizeof(float), 0.01f);
  }
  const dnnl::convolution_forward prim(pd);
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  while (times.size() < 5 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 0.3) {
    const auto t0 = std::chrono::steady_clock::now();
    prim.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}});
    s.wait();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], pd.impl_info_str()};
}

}  // namespace

int main() {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  const int channels[][2] = {{16, 16},  {32, 32},   {48, 64},   {64, 64},  {96, 128},
                             {128, 32}, {128, 128}, {256, 256}, {512, 512}};
  std::printf("batch side  in out  direct ms  winograd ms  ratio  winograd kernel\n");
  for (int n : {1, 8})
    for (int side : {7, 14, 28, 56, 112})
      for (const auto& co : channels) {
        if (side == 112 && co[0] > 64) continue;
        const Timed direct = run(eng, s, dnnl::algorithm::convolution_direct, n, co[0], side, co[1]);
        try {
          const Timed wino = run(eng, s, dnnl::algorithm::convolution_winograd, n, co[0], side, co[1]);
          std::printf("%5d %4d %3d %3d %10.3f %12.3f %6.2f  %s\n", n, side, co[0], co[1], direct.ms, wino.ms,
                      wino.ms / direct.ms, wino.impl.c_str());
        } catch (const dnnl::error&) {
          std::printf("%5d %4d %3d %3d %10.3f %12s %6s  none\n", n, side, co[0], co[1], direct.ms, "-", "-");
        }
        std::fflush(stdout);
      }
}
