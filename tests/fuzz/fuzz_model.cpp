// libFuzzer target: ONNX bytes -> import (attribute rules, ONNX shape
// inference, verify) -> fold passes -> plan build for the declared shapes
// (symbolic dims as 1), oneDNN or reference kernels by the input's parity.
// Nothing runs: a plan's tensors stay within a small memory limit.
#include <cstddef>
#include <cstdint>

#include "bnfold/graph/error.hpp"
#include "bnfold/graph/memory.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/runtime/session.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = [] {
    bnfold::set_memory_limit(size_t{256} << 20);
    return true;
  }();
  (void)init;
  try {
    std::shared_ptr<bnfold::Graph> g = bnfold::load_onnx_bytes(data, size, "fuzz");
    std::shared_ptr<bnfold::Graph> folded = bnfold::clone_graph(*g);
    bnfold::fold_batchnorms(*folded);
    bnfold::SessionOptions o;
    o.threads = 1;
    o.use_onednn = size % 2 == 0;
    bnfold::Session session(folded, o);
  } catch (const bnfold::Error&) {
    // A clean refusal is the expected outcome of most inputs.
  }
  return 0;
}
