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
  const bool as_is = source.dtype() == DType::Int8 && src_md.data_type() == dnnl::memory::data_type::s8;
  if (!as_is && (source.dtype() != DType::Float32 || scale != 1.0)) {
    converted = ops::to_float32(source);
    if (scale != 1.0) {
      float* p = converted.mutable_data_as<float>();
      for (int64_t i = 0; i < converted.numel(); ++i) p[i] = static_cast<float>(p[i] * scale);
    }
    f32 = &converted;
  }
  // Already float32 in the layout wanted (a Gemm's plain weights at batch 1,
  // a bias): the primitive reads the model's own bytes (primitives only read weights;
  // vgg11_bn: 490 MB not copied).
  dnnl::memory m = f32 == &source && src_md == want
                       ? dnnl::memory(want, dnnl_engine(), const_cast<void*>(source.data()))
                       : reordered_constant(*f32, src_md, want);
  entries_.push_back({source.data(), scale, src_md, want, std::move(m)});
  return entries_.back().memory;
}

}  // namespace bnfold::rt
