#include "runtime/dnnl/impl_choice.hpp"

namespace bnfold::rt {

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

ImplKind impl_kind(const std::string& impl) {
  if (starts_with(impl, "ref")) return ImplKind::Reference;
  if (starts_with(impl, "brg") || starts_with(impl, "brdgmm")) return ImplKind::Brgemm;
  if (starts_with(impl, "jit")) return ImplKind::Jit;
  if (starts_with(impl, "gemm") || impl.find(":gemm") != std::string::npos) return ImplKind::Gemm;
  return ImplKind::Other;
}

const char* to_string(ImplKind k) {
  switch (k) {
    case ImplKind::Reference: return "reference";
    case ImplKind::Gemm: return "gemm";
    case ImplKind::Jit: return "jit";
    case ImplKind::Brgemm: return "brgemm";
    case ImplKind::Other: break;
  }
  return "other";
}

bool seek_impl(dnnl::primitive_desc& pd, const std::function<bool(const dnnl::primitive_desc&)>& accept) {
  do {
    if (accept(pd)) return true;
  } while (pd.next_impl());
  return false;
}

}  // namespace bnfold::rt
