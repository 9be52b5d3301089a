// libFuzzer target: the tensor file parsers on the same bytes: .npy,
// .npz (zip of .npy, stored or deflated) and ONNX TensorProto .pb (external
// data refused: no folder).
#include <cstddef>
#include <cstdint>
#include <string>

#include "bnfold/analysis/dataset.hpp"
#include "bnfold/graph/error.hpp"
#include "bnfold/graph/memory.hpp"
#include "bnfold/graph/tensor_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = [] {
    bnfold::set_memory_limit(size_t{256} << 20);
    return true;
  }();
  (void)init;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    bnfold::parse_npy(bytes, "fuzz.npy");
  } catch (const bnfold::Error&) {
  }
  try {
    bnfold::parse_npz(bytes, "fuzz.npz");
  } catch (const bnfold::Error&) {
  }
  try {
    bnfold::parse_tensor_pb(bytes, "fuzz.pb");
  } catch (const bnfold::Error&) {
  }
  return 0;
}
