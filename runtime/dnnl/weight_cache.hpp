// Internal: constant weights in the layouts oneDNN primitives want, made once
// per session and shared by all its plans (a new batch size makes a new plan
// whose convolutions want the same reordered weights; vgg11_bn's are 500 MB).
#pragma once

#include <dnnl.hpp>

#include <mutex>
#include <vector>

#include "bnfold/graph/tensor.hpp"

namespace bnfold::rt {

class WeightCache {
 public:
  // `source` (any float dtype, laid out as src_md describes) times `scale`,
  // in layout `want` (its data type: f32, bf16; or int8 where source is int8
  // already and src_md says s8). Thread-safe; the memory lives as long as the
  // cache, and `source` must outlive it too (it is the key, and where it is
  // float32 in layout `want` already, the memory is over its bytes).
  dnnl::memory get(const Tensor& source, double scale, const dnnl::memory::desc& src_md,
                   const dnnl::memory::desc& want);

 private:
  struct Entry {
    const void* source;
    double scale;
    dnnl::memory::desc src_md, want;
    dnnl::memory memory;
  };
  std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace bnfold::rt
