#include "runtime/dnnl/dnnl_util.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <vector>

#include "graph/check.hpp"

namespace bnfold::rt {

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

DnnlStream::DnnlStream(bool needed) {
  if (needed) stream_ = std::make_unique<dnnl::stream>(dnnl_engine());
}

void DnnlStream::wait() {
  if (stream_) stream_->wait();
}

dnnl::memory::dims to_dnnl_dims(const std::vector<int64_t>& dims) {
  if (dims.empty()) return {1};
  return dnnl::memory::dims(dims.begin(), dims.end());
}

dnnl::memory::data_type dnnl_type(DType t) {
  using dt = dnnl::memory::data_type;
  switch (t) {
    case DType::BFloat16: return dt::bf16;
    case DType::Float16: return dt::f16;
    case DType::Int8: return dt::s8;
    case DType::UInt8: return dt::u8;
    case DType::Int32: return dt::s32;
    default: return dt::f32;
  }
}

dnnl::memory::desc plain_md(const std::vector<int64_t>& dims, dnnl::memory::data_type dt) {
  const auto d = to_dnnl_dims(dims);
  dnnl::memory::dims strides(d.size(), 1);
  for (size_t k = d.size(); k-- > 1;)
    BNFOLD_CHECK(!__builtin_mul_overflow(strides[k], d[k], &strides[k - 1]),
                 ErrorCode::InvalidModel, "a tensor's strides overflow ({} dims)", d.size());
  return dnnl::memory::desc(d, dt, strides);
}

dnnl::memory::desc any_md(const std::vector<int64_t>& dims, dnnl::memory::data_type dt) {
  return dnnl::memory::desc(to_dnnl_dims(dims), dt, dnnl::memory::format_tag::any);
}

dnnl::memory::desc same_format_md(const dnnl::memory::desc& like, const std::vector<int64_t>& dims) {
  using tag = dnnl::memory::format_tag;
  // Per rank 3, 4, 5: plain, channels last, 8- and 16-channel blocks.
  static const tag kTags[3][4] = {{tag::abc, tag::acb, tag::aBc8b, tag::aBc16b},
                                  {tag::abcd, tag::acdb, tag::aBcd8b, tag::aBcd16b},
                                  {tag::abcde, tag::acdeb, tag::aBcde8b, tag::aBcde16b}};
  const dnnl::memory::dims d = to_dnnl_dims(dims);
  if (static_cast<size_t>(like.dims().size()) == dims.size() && dims.size() >= 3 && dims.size() <= 5)
    for (tag t : kTags[dims.size() - 3])
      if (dnnl::memory::desc(like.dims(), like.data_type(), t) == like) return dnnl::memory::desc(d, like.data_type(), t);
  return plain_md(dims);
}

dnnl::memory reordered_constant(const Tensor& plain_f32, const dnnl::memory::desc& src_md,
                                const dnnl::memory::desc& want) {
  auto& eng = dnnl_engine();
  dnnl::memory src(src_md, eng, const_cast<void*>(plain_f32.data()));
  dnnl::memory dst(want, eng);
  dnnl::stream s(eng);
  dnnl::reorder(src, dst).execute(s, src, dst);
  s.wait();
  return dst;
}

void set_dnnl_threads(int threads) {
  // oneDNN (built with OpenMP here) fixes the thread count of a primitive
  // when it is created, so this must come before any primitive.
  if (threads > 0) omp_set_num_threads(threads);
}

double parallel_region_us() {
  const int team = omp_get_max_threads();
  if (team <= 1) return 0.0;
  static std::mutex mutex;
  static std::map<int, double> measured;
  const std::lock_guard<std::mutex> lock(mutex);
  if (auto it = measured.find(team); it != measured.end()) return it->second;
  // The fastest of 5 batches of 64 empty regions, after a warm-up that wakes
  // the team: the machine's own cost, not that of a moment when another
  // process held a core (then a batch takes far longer). Capped at 5 us, so
  // that a measurement on an overloaded machine cannot take more than small
  // steps off the team.
  double best = 5.0;
  std::atomic<int> sink{0};
  for (int batch = -1; batch < 5; ++batch) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 64; ++i) {
#pragma omp parallel num_threads(team)
      sink.fetch_add(1, std::memory_order_relaxed);
    }
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 64;
    if (batch >= 0) best = std::min(best, us);
  }
  return measured[team] = best;
}

ThreadCountScope::ThreadCountScope(int threads) {
  if (threads <= 0) return;
  const int current = omp_get_max_threads();
  if (current == threads) return;
  previous_ = current;
  omp_set_num_threads(threads);
}

ThreadCountScope::~ThreadCountScope() {
  if (previous_ > 0) omp_set_num_threads(previous_);
}

}  // namespace bnfold::rt
