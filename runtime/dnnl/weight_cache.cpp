#include "runtime/dnnl/weight_cache.hpp"

#include "ops/op_util.hpp"
#include "runtime/dnnl/dnnl_util.hpp"

namespace bnfold::rt {

dnnl::memory WeightCache::get(const Tensor& source, double scale, const dnnl::memory::desc& src_md,
                              const dnnl::memory::desc& want) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Entry& e : entries_)
    if (e.source == source.data() && e.scale == scale && e.src_md == src_md && e.want == want) return e.memory;
  // A float32 copy only where the source is another dtype or scaled; it is
  // dropped once reordered.
  Tensor converted;
  const Tensor* f32 = &source;
  if (source.dtype() != DType::Float32 || scale != 1.0) {
    converted = ops::to_float32(source);
    if (scale != 1.0) {
      float* p = converted.mutable_data_as<float>();
      for (int64_t i = 0; i < converted.numel(); ++i) p[i] = static_cast<float>(p[i] * scale);
    }
    f32 = &converted;
  }
  entries_.push_back({source.data(), scale, src_md, want, reordered_constant(*f32, src_md, want)});
  return entries_.back().memory;
}

}  // namespace bnfold::rt
