// Steps with too little work to share among threads run on the calling thread
// alone (Step::one_thread): waking a team and waiting at its barrier costs
// 0.3-5 us a step, which a network of small steps at batch 1 feels. Checked
// here by structure (which steps the plan made for one thread, and why) and by
// the numbers, never by a clock.
#include <catch2/catch.hpp>
#include <omp.h>

#include <algorithm>
#include <string>

#include "runtime/dnnl/dnnl_util.hpp"
#include "tests/runtime/dnnl_case.hpp"

using namespace bnfold;
using namespace bnfold::test;

namespace {

bool says_one_thread(const std::string& why) { return why.find("one thread") != std::string::npos; }

// A tiny 1x1 convolution (16 channels, 4x4) beside a large 3x3 one (48
// channels, 56x56): the first is work for well under a microsecond, the
// second for milliseconds on any CPU.
Case small_and_large() {
  Case t;
  Value* small = t.input("small", {1, 16, 4, 4});
  t.output(t.node("Relu", {t.node("Conv", {small, t.weight("w1", {16, 16, 1, 1})}, "small_conv")}));
  Value* large = t.input("large", {1, 16, 56, 56});
  t.output(t.node("Relu", {t.node("Conv", {large, t.weight("w2", {48, 16, 3, 3}), t.weight("b2", {48})},
                                  "large_conv", {{"pads", ints({1, 1, 1, 1})}})}));
  return t;
}

}  // namespace

TEST_CASE("a step with little work runs on one thread, a large one on the team", "[runtime][threads]") {
  Case t = small_and_large();
  SessionOptions two, one, ref;
  two.threads = 2;
  one.threads = 1;
  ref.use_onednn = false;
  Session fast(t.g, two), single(t.g, one), plain(t.g, ref);
  const auto want = plain.run(t.inputs);
  const int caller = omp_get_max_threads();
  check_same_outputs(fast.run(t.inputs), want, 1e-4, 1e-4);
  check_same_outputs(single.run(t.inputs), want, 1e-4, 1e-4);
  CHECK(omp_get_max_threads() == caller);  // the run put the caller's count back

  const auto stats = fast.plan_stats(t.inputs);
  int small_single = -1, large_single = -1;
  for (size_t i = 0; i < stats.step_nodes.size(); ++i) {
    CAPTURE(stats.step_descriptions[i], stats.step_nodes[i], stats.step_choices[i]);
    if (stats.step_nodes[i] == "small_conv_node") small_single = says_one_thread(stats.step_choices[i]);
    if (stats.step_nodes[i] == "large_conv_node") large_single = says_one_thread(stats.step_choices[i]);
  }
  CHECK(small_single == 1);
  CHECK(large_single == 0);
  // Sessions of one thread have nothing to take off a team.
  for (const auto& why : single.plan_stats(t.inputs).step_choices) CHECK_FALSE(says_one_thread(why));
}

TEST_CASE("the cost of a parallel region is measured once and bounded", "[runtime][threads]") {
  const rt::ThreadCountScope two(2);
  const double us = rt::parallel_region_us();
  CHECK(us > 0.0);
  CHECK(us <= 5.0);
  CHECK(rt::parallel_region_us() == us);  // cached
  const rt::ThreadCountScope single(1);
  CHECK(rt::parallel_region_us() == 0.0);  // no team to wake
}
