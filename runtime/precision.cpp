// Precision names, and whether the CPU runs bfloat16 kernels natively.
#include "bnfold/runtime/session.hpp"

#include <dnnl.hpp>

#include "graph/check.hpp"

namespace bnfold {

const char* precision_name(Precision p) { return p == Precision::BFloat16 ? "bf16" : "fp32"; }

Precision parse_precision(const std::string& name) {
  if (name == "fp32" || name == "float32") return Precision::Float32;
  if (name == "bf16" || name == "bfloat16") return Precision::BFloat16;
  failf(ErrorCode::InvalidArgument, "precision '{}' is not one of fp32, bf16", name);
}

bool bfloat16_support(std::string* why) {
  // oneDNN 2.6 also runs bfloat16 on plain AVX-512 by emulating it, slower
  // than float32 there: only the native instructions count. The effective
  // ISA is the CPU's, lowered by ONEDNN_MAX_CPU_ISA.
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  if ((isa & bf16) == bf16) return true;
  if (why)
    *why = "this CPU has no native bfloat16 instructions (AVX512-BF16 or AMX), as oneDNN sees it"
           " (ONEDNN_MAX_CPU_ISA can lower what it sees)";
  return false;
}

}  // namespace bnfold
