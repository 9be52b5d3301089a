#include "runtime/dnnl/impl_timing.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <unordered_map>

namespace bnfold::rt {

namespace {

// The arguments pd's primitive takes: data, weights, bias, the scratchpad,
// and each post-op's own inputs. Only post-ops that exist are asked about:
// oneDNN 2.6 answers a query for a post-op index past the list with
// whatever lies beyond it (a garbage descriptor, whose size divided by zero).
std::vector<int> primitive_args(const dnnl::primitive_desc& pd) {
  std::vector<int> args = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
  const dnnl::post_ops ops = pd.get_primitive_attr().get_post_ops();
  for (int i = 0; i < ops.len(); ++i) {
    if (ops.kind(i) == dnnl::primitive::kind::binary) {
      args.push_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(i) | DNNL_ARG_SRC_1);
    } else if (ops.kind(i) == dnnl::primitive::kind::convolution) {
      args.push_back(DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS);
      args.push_back(DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS);
    }
  }
  return args;
}

// oneDNN lists each family's kernels best ISA first (jit_dw:avx512_core
// before jit_dw:avx2 and sse41), so past the first two that keep the
// layouts, a candidate is an older ISA's kernel of a family already timed.
constexpr size_t kMostTimed = 2;

struct Choice {
  std::string impl;  // the fastest one's name
  std::vector<TimedImpl> timings;
};

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}

std::unordered_map<std::string, Choice>& cache() {
  static std::unordered_map<std::string, Choice> c;
  return c;
}

// An offer standing at a copy of `at` (a copy keeps its implementation while
// the list it came from moves on), keeping `list`, whose operation
// descriptor the copy's iterator points to, alive with it.
Offer standing_at(const Offer& list, const dnnl::primitive_desc& at) {
  struct Held {
    Offer list;
    dnnl::primitive_desc at;
  };
  auto held = std::make_shared<Held>(Held{list, at});
  return Offer(held, &held->at);
}

}  // namespace

double time_primitive_us(const dnnl::primitive_desc& pd, double bound_us) {
  const dnnl::engine& eng = dnnl_engine();
  std::unordered_map<int, dnnl::memory> args;
  for (int arg : primitive_args(pd)) {
    const dnnl::memory::desc md = pd.query_md(dnnl::query::exec_arg_md, arg);
    if (md.get_size() == 0) continue;
    dnnl::memory m(md, eng);
    float* p = static_cast<float*>(m.get_data_handle());
    if (md.data_type() == dnnl::memory::data_type::f32 && arg != DNNL_ARG_SCRATCHPAD)
      std::fill(p, p + md.get_size() / sizeof(float), 0.5f);
    else
      std::memset(p, 0, md.get_size());
    args.emplace(arg, std::move(m));
  }
  const dnnl::primitive prim(pd);
  dnnl::stream s(eng);
  double best = 0;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    prim.execute(s, args);
    s.wait();
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    if (i == 0) continue;  // untimed: the first touch of the buffers
    best = i == 1 ? us : std::min(best, us);
    if (bound_us > 0 && best > 1.5 * bound_us) break;  // clearly slower: no second try
  }
  return best;
}

Offer fastest_offer(const std::function<Offer()>& make, const std::function<bool(const dnnl::primitive_desc&)>& accept,
                    const std::function<double(const dnnl::primitive_desc&, double)>& time, const std::string& key,
                    std::vector<TimedImpl>* timings) {
  // One walk along oneDNN's list, keeping a copy of each accepted
  // implementation. Not an index to walk to again later: once a primitive
  // of a listed implementation exists, oneDNN 2.6's primitive cache adds it
  // to a new list of the same descriptor a second time, and the indices move.
  Offer pd = make();
  std::vector<dnnl::primitive_desc> accepted;
  do {
    if (accept(*pd)) accepted.push_back(*pd);
  } while (accepted.size() < kMostTimed && pd->next_impl());
  if (accepted.empty()) return nullptr;
  if (accepted.size() == 1) return standing_at(pd, accepted[0]);
  {
    const std::lock_guard<std::mutex> lock(cache_mutex());
    if (auto it = cache().find(key); it != cache().end()) {
      for (const auto& a : accepted) {
        if (it->second.impl != a.impl_info_str()) continue;
        if (timings) *timings = it->second.timings;
        return standing_at(pd, a);
      }
    }
  }
  Choice choice;
  size_t best = 0;
  for (size_t i = 0; i < accepted.size(); ++i) {
    const double bound = i == 0 ? 0.0 : choice.timings[best].us;
    double us = std::numeric_limits<double>::infinity();
    try {
      us = time(accepted[i], bound);
    } catch (const std::exception&) {
      // A candidate that cannot be made or run here (a JIT failure, its
      // buffers out of memory) is not chosen; it must not cost the step its
      // oneDNN kernel.
    }
    choice.timings.push_back({accepted[i].impl_info_str(), us});
    if (choice.timings[i].us < choice.timings[best].us) best = i;
  }
  choice.impl = choice.timings[best].impl;
  if (timings) *timings = choice.timings;
  {
    const std::lock_guard<std::mutex> lock(cache_mutex());
    cache()[key] = std::move(choice);
  }
  return standing_at(pd, accepted[best]);
}

std::string md_key(const dnnl::memory::desc& md, bool skip_batch) {
  const auto& d = md.data;
  std::string k = std::to_string(static_cast<int>(d.data_type)) + ":";
  for (int i = skip_batch ? 1 : 0; i < d.ndims; ++i) k += std::to_string(d.dims[i]) + ",";
  if (d.format_kind == dnnl_blocked) {
    const auto& b = d.format_desc.blocking;
    k += "s";
    for (int i = 0; i < d.ndims; ++i) k += std::to_string(b.strides[i]) + ",";
    k += "b";
    for (int i = 0; i < b.inner_nblks; ++i)
      k += std::to_string(b.inner_idxs[i]) + "x" + std::to_string(b.inner_blks[i]) + ",";
  } else {
    k += "f" + std::to_string(static_cast<int>(d.format_kind));
  }
  return k;
}

}  // namespace bnfold::rt
