// Internal: choosing among the implementations oneDNN offers for one
// descriptor. oneDNN 2.6 lists them in an order that differs between CPUs
// (brgconv first on some AVX-512 parts, jit on others), ISA limits
// (ONEDNN_MAX_CPU_ISA) and cache sizes (jit_1x1 offers the depthwise
// post-op only when the expanded tensor is twice the threads' L2), and the
// first one that accepts a descriptor is all a primitive_desc shows until it
// is advanced. So no decision here rests on the first name: a fusion is taken
// when any implementation in the list runs it as one kernel, and every place
// that reads an implementation's name reads it through impl_kind().
#pragma once

#include <dnnl.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "runtime/dnnl/dnnl_util.hpp"

namespace bnfold::rt {

// What an implementation is, from its impl_info_str() ("jit_1x1:avx512_core",
// "brgconv:avx512_core", "gemm:jit", "ref:any", "ref_fused_convolution:any"...).
enum class ImplKind {
  Reference,  // ref, ref_fused_convolution: oneDNN's slow paths (the fused one runs two primitives)
  Gemm,       // im2col + gemm, and gemm-based matmul/inner product
  Jit,        // a jit kernel of its own (jit, jit_1x1, jit_dw, jit_wino...)
  Brgemm,     // the batch-reduce gemm family (brgconv, brg_matmul, brdgmm_dw)
  Other,      // simple reorders/concats and anything not named above
};
ImplKind impl_kind(const std::string& impl_info);
const char* to_string(ImplKind k);
// Not oneDNN's reference path: a kernel written for speed.
inline bool optimized(ImplKind k) { return k != ImplKind::Reference; }

// A primitive descriptor that owns the operation descriptor it was made from.
// oneDNN 2.6's implementation iterator keeps a pointer to the operation
// descriptor (src/common/primitive_iterator.hpp), so next_impl() on a
// primitive_desc whose operation descriptor has gone out of scope reads freed
// memory: resnet18's plan crashed there. Every descriptor that seek_impl may
// advance is made by make_offer.
using Offer = std::shared_ptr<dnnl::primitive_desc>;
template <typename P>
Offer make_offer(const typename P::desc& d, const dnnl::primitive_attr& attr) {
  struct Held {
    typename P::desc desc;
    std::optional<typename P::primitive_desc> pd;
  };
  auto held = std::make_shared<Held>(Held{d, std::nullopt});
  held->pd.emplace(held->desc, attr, dnnl_engine());  // throws dnnl::error where nothing implements it
  return Offer(held, &*held->pd);
}

// Advances pd through oneDNN's implementation list, from where it stands, to
// the first implementation `accept` takes. Returns true with pd there; false
// when none does (pd is then left at the last one of the list).
bool seek_impl(dnnl::primitive_desc& pd, const std::function<bool(const dnnl::primitive_desc&)>& accept);


}  // namespace bnfold::rt
