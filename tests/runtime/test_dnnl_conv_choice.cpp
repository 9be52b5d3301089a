// Where the plan builder chooses between forms of a convolution (Winograd or
// direct, a fusion with what follows, the input's layout), the outputs always
// match the reference kernels, and the structure is checked against what
// oneDNN offers on this machine for that descriptor, asked here directly:
// never against the CPU's flags or the first implementation oneDNN lists, so
// that the tests hold on AVX2-only and AVX-512/AMX parts, under
// ONEDNN_MAX_CPU_ISA, and with any cache size.
#include <catch2/catch.hpp>
#include <dnnl.hpp>

#include <algorithm>
#include <cmath>

#include "runtime/dnnl/dnnl_util.hpp"
#include "runtime/dnnl/impl_timing.hpp"
#include "bnfold/runtime/session.hpp"
#include "tests/runtime/dnnl_case.hpp"

using namespace bnfold;
using namespace bnfold::test;

namespace {

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

dnnl::memory::desc any(const dims& d) { return {d, dt::f32, dnnl::memory::format_tag::any}; }

// Whether any implementation oneDNN lists for pd's descriptor is not one of
// its reference paths (ref, ref_fused_convolution), with dst dims `want`.
bool offers_kernel(dnnl::primitive_desc& pd, const dims& want) {
  do {
    const std::string impl = pd.impl_info_str();
    if (impl.rfind("ref", 0) != 0 && pd.dst_desc().dims() == want) return true;
  } while (pd.next_impl());
  return false;
}

// The attributes the plan gives its primitives: a user scratchpad, post-ops.
dnnl::primitive_attr attr_with(const dnnl::post_ops& ops) {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  a.set_post_ops(ops);
  return a;
}

// Whether oneDNN offers a Winograd kernel for a 3x3 stride-1 convolution with
// bias and a ReLU post-op, on 2 threads (the sessions' count).
bool offers_winograd(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, const std::vector<int64_t>& pads) {
  rt::set_dnnl_threads(2);
  dnnl::post_ops ops;
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  const int64_t oh = h + pads[0] + pads[2] - 2, ow = w + pads[1] + pads[3] - 2;
  try {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_winograd,
                                      any({n, c, h, w}), any({m, c, 3, 3}), any({m}), any({n, m, oh, ow}), {1, 1},
                                      {pads[0], pads[1]}, {pads[2], pads[3]});
    dnnl::convolution_forward::primitive_desc pd(d, attr_with(ops), rt::dnnl_engine());
    return offers_kernel(pd, {n, m, oh, ow});
  } catch (const dnnl::error&) {
    return false;  // no Winograd implementation at all (no AVX-512)
  }
}

// Whether oneDNN offers one kernel for a 1x1 convolution (c -> m, bias, ReLU)
// with a 3x3 depthwise convolution (padding 1, `stride`) and SiLU after it as
// post-ops, on 2 threads.
bool offers_depthwise_pair(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, int64_t stride) {
  rt::set_dnnl_threads(2);
  dnnl::post_ops ops;
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  ops.append_dw(dt::f32, dt::f32, dt::f32, 3, stride, 1, 0, {});
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
  try {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                      any({n, c, h, w}), any({m, c, 1, 1}), any({m}), any({n, m, h, w}), {1, 1},
                                      {0, 0}, {0, 0});
    dnnl::convolution_forward::primitive_desc pd(d, attr_with(ops), rt::dnnl_engine());
    return offers_kernel(pd, {n, m, (h - 1) / stride + 1, (w - 1) / stride + 1});
  } catch (const dnnl::error&) {
    return false;
  }
}

}  // namespace

double largest_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(static_cast<double>(t.data_as<float>()[i])));
  return m;
}

TEST_CASE("Conv: Winograd on dense 3x3 stride-1 convolutions where oneDNN offers it, direct on request",
          "[kernels][conv][winograd]") {
  struct Spec {
    int64_t n, c, h, w, m;
    std::vector<int64_t> pads;
    bool winograd;  // expected where oneDNN offers a Winograd kernel for it
  };
  const Spec specs[] = {
      {1, 32, 14, 15, 72, {1, 1, 1, 1}, true},   // F(2x2,3x3) at batch 1; 72 output channels: a partial block
      {3, 48, 17, 16, 65, {1, 1, 1, 1}, true},   // F(4x4,3x3) at batch 3; odd sizes
      {2, 128, 7, 9, 128, {1, 1, 1, 1}, false},  // 7 rows: direct (as fast, no weight transform)
      {2, 33, 15, 14, 32, {0, 1, 2, 1}, false},  // asymmetric pads: whatever oneDNN takes
      {1, 16, 28, 28, 16, {1, 1, 1, 1}, false},  // 16 channels: direct is faster
      {2, 128, 28, 28, 32, {1, 1, 1, 1}, false}, // densenet's 128 -> 32: few outputs
  };
  for (const auto& s : specs) {
    CAPTURE(s.n, s.c, s.h, s.w, s.m);
    Case t;
    Value* x = t.input("x", {s.n, s.c, s.h, s.w});
    Value* c = t.node("Conv", {x, t.weight("w", {s.m, s.c, 3, 3}), t.weight("b", {s.m})}, {{"pads", ints(s.pads)}});
    t.output(t.node("Relu", {c}));
    SessionOptions wino, direct, ref;
    wino.threads = direct.threads = 2;
    direct.winograd = false;
    ref.use_onednn = false;
    Session a(t.g, wino), d(t.g, direct), r(t.g, ref);
    const auto want = r.run(t.inputs);
    // Sums of 300-1200 products of N(0,1) values: float32's error is relative
    // to the sizes of the terms, not to a result that happens to be near 0.
    const double atol = 1e-5 * largest_abs(want.begin()->second);
    test::check_same_outputs(a.run(t.inputs), want, 1e-4, atol);
    test::check_same_outputs(d.run(t.inputs), want, 1e-4, atol);
    const auto impls = a.plan_stats(t.inputs).step_implementations;
    const bool uses = contains(impls, "wino");
    if (s.winograd) CHECK(uses == offers_winograd(s.n, s.c, s.h, s.w, s.m, s.pads));
    else if (s.pads[0] == s.pads[2]) CHECK_FALSE(uses);
    CHECK_FALSE(contains(d.plan_stats(t.inputs).step_implementations, "wino"));
  }
  // Fused into it: a residual Add after a ReLU chain, as in resnet.
  Case res;
  Value* x = res.input("x", {2, 64, 16, 16});
  const std::vector<std::pair<std::string, Attribute>> pad1 = {{"pads", ints({1, 1, 1, 1})}};
  Value* y = res.node("Relu", {res.node("Conv", {x, res.weight("w1", {64, 64, 3, 3})}, pad1)});
  Value* z = res.node("Conv", {y, res.weight("w2", {64, 64, 3, 3}), res.weight("b2", {64})}, pad1);
  res.output(res.node("Relu", {res.node("Add", {z, x})}));
  // Two chained 576-term sums: float32 rounding differs by ISA (SSE4.1 measured 2.3e-4 on values near 0.1).
  const auto steps = res.check(1e-4, 1e-3);
  CHECK(contains(steps, "Conv (oneDNN) + Add + Relu"));
}

TEST_CASE("Conv fuses activations and a residual Add", "[kernels][conv][fusion]") {
  Case t;
  Value* x = t.input("x", {2, 16, 10, 10});
  Value* skip = t.node("Relu", {x});
  Value* c = t.node("Conv", {x, t.weight("w", {16, 16, 3, 3}), t.weight("b", {16})}, {{"pads", ints({1, 1, 1, 1})}});
  Value* sum = t.node("Add", {c, skip});
  t.output(t.node("Relu", {sum}));
  const auto steps = t.check();
  CHECK(contains(steps, "Conv (oneDNN) + Add + Relu"));

  Case clip;
  Value* y = clip.node("Conv", {clip.input("x", {1, 8, 6, 6}), clip.weight("w", {8, 8, 1, 1})});
  clip.output(clip.node("Clip", {y}, {{"min", real(0)}, {"max", real(6)}}));
  clip.g->info.opsets[""] = 6;  // Clip with min/max attributes
  CHECK(contains(clip.check(), "Conv (oneDNN) + Clip"));

  Case hs;
  Value* z = hs.node("Conv", {hs.input("x", {1, 8, 6, 6}), hs.weight("w", {8, 8, 3, 3})});
  hs.output(hs.node("HardSigmoid", {hs.node("LeakyRelu", {z})}));
  CHECK(contains(hs.check(), "Conv (oneDNN) + LeakyRelu + HardSigmoid"));
}

TEST_CASE("a 1x1 Conv and the 3x3 depthwise Conv that alone reads its large output run as one step "
          "wherever oneDNN offers a kernel for the pair",
          "[kernels][conv][fusion]") {
  // Odd sides, both strides, with and without the depthwise bias. 96 x 105 x
  // 105 is above the size from which bnfold fuses the pair (400k elements per
  // sample, conv_depthwise.cpp), and at batch 2 (8.5 MB) above twice the L2 of
  // two cores of 2 MB, from which oneDNN 2.6's jit_1x1 offers it; where it is
  // not offered (larger caches, other kernels) the pair must stay two steps.
  const auto conv_steps = [](const std::vector<std::string>& steps) {
    return std::count_if(steps.begin(), steps.end(), [](const std::string& s) { return s.rfind("Conv", 0) == 0; });
  };
  const int64_t side = 105;
  for (const int64_t stride : {1, 2}) {
    INFO("stride " << stride);
    Case t;
    Value* x = t.input("x", {2, 16, side, side});
    Value* e = t.node("Relu", {t.node("Conv", {x, t.weight("w", {96, 16, 1, 1}), t.weight("b", {96})})});
    std::vector<Value*> dw_in = {e, t.weight("dw", {96, 1, 3, 3})};
    if (stride == 1) dw_in.push_back(t.weight("db", {96}));
    Value* d =
        t.node("Conv", dw_in, {{"group", one(96)}, {"strides", ints({stride, stride})}, {"pads", ints({1, 1, 1, 1})}});
    t.output(t.node("Mul", {d, t.node("Sigmoid", {d})}));
    const auto steps = t.check();  // the numbers, whatever the plan
    const bool offered = offers_depthwise_pair(2, 16, side, side, 96, stride);
    INFO("oneDNN offers a kernel for the pair: " << offered);
    CHECK(contains(steps, "Conv (oneDNN) + Relu + depthwise Conv + SiLU") == offered);
    CHECK(conv_steps(steps) == (offered ? 1 : 2));
    SessionOptions o;
    o.threads = 2;
    Session session(t.g, o);
    const auto stats = session.plan_stats(t.inputs);
    // The plan says why, either way.
    const auto why = std::find_if(stats.step_choices.begin(), stats.step_choices.end(),
                                  [](const std::string& w) { return w.find("1x1 + depthwise") != std::string::npos; });
    REQUIRE(why != stats.step_choices.end());
    CHECK((why->find("not fused") == std::string::npos) == offered);
    // Fused or not, the depthwise FLOPs are counted.
    const double dw_side = stride == 1 ? side : (side + 1) / 2;
    CHECK(stats.flops == Approx(2.0 * 2 * side * side * 96 * 16 + 2.0 * 2 * dw_side * dw_side * 96 * 9));
  }
  {  // small: two steps (the pair measured slower there)
    Case t;
    Value* e = t.node("Conv", {t.input("x", {1, 16, 20, 20}), t.weight("w", {96, 16, 1, 1})});
    t.output(t.node("Conv", {e, t.weight("dw", {96, 1, 3, 3})}, {{"group", one(96)}, {"pads", ints({1, 1, 1, 1})}}));
    CHECK(conv_steps(t.check()) == 2);
  }
  {  // the expanded tensor read by something else too, or no padding: two steps
    Case t;
    Value* e = t.node("Conv", {t.input("x", {1, 16, 71, 71}), t.weight("w", {96, 16, 1, 1})});
    t.output(t.node("Conv", {e, t.weight("dw", {96, 1, 3, 3})}, {{"group", one(96)}, {"pads", ints({1, 1, 1, 1})}}));
    t.output(t.node("Relu", {e}));
    CHECK(conv_steps(t.check()) == 2);
    Case u;
    Value* f = u.node("Conv", {u.input("x", {1, 16, 71, 71}), u.weight("w", {96, 16, 1, 1})});
    u.output(u.node("Conv", {f, u.weight("dw", {96, 1, 3, 3})}, {{"group", one(96)}}));
    CHECK(conv_steps(u.check()) == 2);
  }
}

TEST_CASE("a depthwise Conv takes the faster of the first two implementations oneDNN offers in its layout",
          "[kernels][conv][choice]") {
  // The selection, with a made-up clock: whichever candidate it says is
  // faster is taken, and a decision is remembered by its key.
  rt::set_dnnl_threads(2);
  const auto make_for = [&](const dnnl::memory::desc& x) {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, x,
                                      any({144, 1, 1, 3, 3}), any({1, 144, 14, 14}), {1, 1}, {1, 1}, {1, 1});
    return rt::make_offer<dnnl::convolution_forward>(d, attr_with({}));
  };
  const auto fast = [](const dnnl::primitive_desc& c) { return rt::optimized(rt::impl_kind(c.impl_info_str())); };
  // The layout oneDNN's first fast implementation wants (nhwc or nChw16c
  // under AVX-512, nChw8c under AVX2), as the plan builder sees it.
  rt::Offer first = make_for(any({1, 144, 14, 14}));
  REQUIRE(rt::seek_impl(*first, fast));
  const dnnl::memory::desc src = first->src_desc();
  const auto make = [&] { return make_for(src); };
  const auto keeps_layout = [&](const dnnl::primitive_desc& c) { return fast(c) && c.src_desc() == src; };
  std::vector<std::string> offered;
  for (auto pd = make();;) {
    if (keeps_layout(*pd)) offered.push_back(pd->impl_info_str());
    if (offered.size() == 2 || !pd->next_impl()) break;
  }
  REQUIRE_FALSE(offered.empty());
  for (size_t faster : {0, 1}) {
    const std::string want = offered[faster % offered.size()];
    int calls = 0;
    std::vector<rt::TimedImpl> timed;
    const auto clock = [&](const dnnl::primitive_desc& c, double) {
      ++calls;
      return c.impl_info_str() == want ? 10.0 : 20.0;
    };
    const std::string key = "test depthwise 144x14x14, faster " + std::to_string(faster);
    const rt::Offer chosen = rt::fastest_offer(make, keeps_layout, clock, key, &timed);
    REQUIRE(chosen);
    CHECK(chosen->src_desc() == src);
    CHECK(chosen->impl_info_str() == want);
    CHECK(calls == (offered.size() > 1 ? 2 : 0));
    CHECK(timed.size() == static_cast<size_t>(calls));
    // Asked again (a batch-8 plan): the same implementation, not timed again.
    const auto no_clock = [&](const dnnl::primitive_desc&, double) {
      FAIL("timed again");
      return 0.0;
    };
    CHECK(rt::fastest_offer(make, keeps_layout, no_clock, key, nullptr)->impl_info_str() == want);
  }
  // A candidate that cannot run is not chosen, and costs the step nothing.
  if (offered.size() > 1) {
    const auto failing = [&](const dnnl::primitive_desc& c, double) {
      if (c.impl_info_str() == offered[0]) throw dnnl::error(dnnl_runtime_error, "made-up failure");
      return 10.0;
    };
    CHECK(rt::fastest_offer(make, keeps_layout, failing, "test depthwise failing", nullptr)->impl_info_str() ==
          offered[1]);
  }
  // Nothing accepted: no offer.
  CHECK_FALSE(rt::fastest_offer(make, [](const dnnl::primitive_desc&) { return false; }, nullptr, "none", nullptr));
  // The real clock measures a run of the primitive, with the operands its
  // post-ops read (a per-channel Add after a ReLU) given buffers too.
  CHECK(rt::time_primitive_us(*make()) > 0.0);
  dnnl::post_ops ops;
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  ops.append_binary(dnnl::algorithm::binary_add, {{1, 144, 1, 1}, dt::f32, dnnl::memory::format_tag::nchw});
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                    any({144, 1, 1, 3, 3}), any({1, 144, 14, 14}), {1, 1}, {1, 1}, {1, 1});
  CHECK(rt::time_primitive_us(*rt::make_offer<dnnl::convolution_forward>(d, attr_with(ops))) > 0.0);
}
