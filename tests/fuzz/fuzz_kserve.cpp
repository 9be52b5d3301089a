// libFuzzer target: the server's KServe v2 request bodies, which arrive from
// the network: the first two bytes choose the Inference-Header-Content-Length
// (0xFFFF: none, the whole rest is JSON), the rest is the body. A parsed
// request is rendered back as a response, every output binary or JSON.
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/serve/kserve.hpp"

using namespace bnfold::serve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int length_code = data[0] | (data[1] << 8);
  const std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
  try {
    ParsedInfer p = parse_infer(body, length_code == 0xFFFF ? -1 : length_code, Limits{1 << 16});
    InferOutputs outputs;
    std::vector<bnfold::TensorSpec> specs;
    for (auto& [name, t] : p.request.inputs) {
      specs.push_back({name, t.dtype(), {}});
      outputs[name] = t;
    }
    p.outputs.clear();
    p.binary_by_default = size % 2 == 0;
    (void)render_infer("m", p, outputs, specs);
  } catch (const HttpError& e) {
    if (e.status != 400 && e.status != 413) __builtin_trap();  // only the client can be at fault here
  }
  return 0;
}
