// Internal: the oneDNN engine, memory descriptors for bnfold tensors, and the
// translation of oneDNN errors into bnfold::Error.
#pragma once

#include <dnnl.hpp>

#include <vector>

#include "bnfold/graph/tensor.hpp"

namespace bnfold::rt {

// The process-wide CPU engine (oneDNN engines are thread-safe to share).
dnnl::engine& dnnl_engine();

// A stream for one run (none when the plan has no oneDNN step).
class DnnlStream {
 public:
  explicit DnnlStream(bool needed);
  dnnl::stream* get() { return stream_ ? &*stream_ : nullptr; }
  void wait();

 private:
  std::unique_ptr<dnnl::stream> stream_;
};

dnnl::memory::dims to_dnnl_dims(const std::vector<int64_t>& dims);
// oneDNN's data type for a bnfold dtype: f32, bf16, f16, s8, u8, s32; f32 for
// the others (bool, int64, ...), which no oneDNN step reads.
dnnl::memory::data_type dnnl_type(DType t);
// Row-major f32 descriptor (rank 0 becomes a 1-element 1-D tensor).
dnnl::memory::desc plain_md(const std::vector<int64_t>& dims,
                            dnnl::memory::data_type dt = dnnl::memory::data_type::f32);
dnnl::memory::desc any_md(const std::vector<int64_t>& dims,
                          dnnl::memory::data_type dt = dnnl::memory::data_type::f32);
// A descriptor of `dims` in the same format as `like` (nChw16c, nhwc...),
// for an operand that broadcasts against it; plain when like's format is
// none of the common ones.
dnnl::memory::desc same_format_md(const dnnl::memory::desc& like, const std::vector<int64_t>& dims);
// A memory of the plan's own: weights reordered once into the layout a
// primitive wants (src holds plain f32 data).
dnnl::memory reordered_constant(const Tensor& plain_f32, const dnnl::memory::desc& src_md,
                                const dnnl::memory::desc& want);
// Settings a process needs once: the thread count before any primitive is made.
void set_dnnl_threads(int threads);
// OpenMP's thread count is a per-thread setting: a Session made on one thread
// and run on another (a server's model thread, an application's worker) ran
// with that thread's count, not the session's (a server given --threads 1
// ran on every core). Each run and plan compile sets the session's count on
// the calling thread for its duration and puts the caller's back after.
// Microseconds one OpenMP parallel region of the calling thread's team size
// costs on this machine (waking the team and the barrier at its end): 0.3-1
// on bare metal, 3-4 on a 2-core VM, 5 at most. Measured once per team size
// (about a millisecond), cached for the process.
double parallel_region_us();
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int threads);  // 0: leave the caller's
  ~ThreadCountScope();
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace bnfold::rt
