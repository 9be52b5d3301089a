// Internal: choosing between the implementations oneDNN offers for one
// descriptor by timing them, where their order says nothing about their
// speed. oneDNN 2.6 lists brdgmm_dw first for a depthwise convolution in
// nhwc on AVX-512 parts, and on the 2-core EPYC measured it ran 1.3-2.8x
// the time of jit_dw in the same layout (144 channels at 56x56: 520 against
// 217 us). Each candidate runs a few times on the plan's shapes at session
// creation, once per process for a descriptor up to its batch size.
#pragma once

#include <dnnl.hpp>
#include <functional>
#include <string>
#include <vector>

#include "runtime/dnnl/impl_choice.hpp"

namespace bnfold::rt {

// Microseconds one run of pd's primitive takes: the better of 2 after one
// untimed run (1 where the first is over 1.5x bound_us, a faster
// candidate's time), on buffers of its own (inputs filled with 0.5, so that
// no denormal or NaN slows a candidate down), on the calling thread's team.
double time_primitive_us(const dnnl::primitive_desc& pd, double bound_us = 0);

struct TimedImpl {
  std::string impl;
  double us = 0;
};

// An offer from `make` standing at the faster of the first two
// implementations `accept` takes, as `time(pd, bound)` measures them. Where
// `accept` takes one, nothing is timed and the offer stands at that one;
// where none, null. `key` names the decision (shapes but the
// batch, layouts, post-ops): for a key decided before in this process, the
// implementation of the same name is taken without timing, so a session's
// batch-8 plan (and a 2-thread step that batch 1 ran on one thread) follows
// its batch-1 measurement: which kernel was faster did not change with
// either in the shapes measured, only by how much. timings (may be null)
// receives what was measured, empty when nothing was.
Offer fastest_offer(const std::function<Offer()>& make, const std::function<bool(const dnnl::primitive_desc&)>& accept,
                    const std::function<double(const dnnl::primitive_desc&, double)>& time, const std::string& key,
                    std::vector<TimedImpl>* timings);

// A key part for a memory descriptor: dims (but the first, with skip_batch),
// data type and blocking.
std::string md_key(const dnnl::memory::desc& md, bool skip_batch = false);

}  // namespace bnfold::rt
