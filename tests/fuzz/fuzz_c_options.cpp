// libFuzzer target: what a C caller may pass the C API's option checks, as
// numbers (the Python module reaches the same library checks): session
// options (struct size, threads, BN mode, monitoring, kernels), run and
// profile shapes and iteration counts, a statistics collector's batches with
// any rank and dims, a recalibration's prior. Every call must return a status; none may crash, hang,
// leak or read out of bounds, and a refused call must say why.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bnfold/bnfold.h"

namespace {

// The fuzz input read as a stream of little numbers (zero once it runs out).
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  template <typename T>
  T take() {
    T v{};
    const size_t n = std::min(sizeof(T), size_ - std::min(at_, size_));
    if (n) std::memcpy(&v, data_ + at_, n);
    at_ += sizeof(T);
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_, at_ = 0;
};

bnfold_model* model() {
  static bnfold_model* m = [] {
    bnfold_model* loaded = nullptr;
    bnfold_model_load(BNFOLD_MODELS_DIR "/mlp_bn.onnx", &loaded);  // [N, 20] -> [N, 5], two BNs
    return loaded;
  }();
  return m;
}

void refused_says_why(bnfold_status s) {
  if (s != BNFOLD_OK && std::strlen(bnfold_last_error()) == 0) __builtin_trap();
}

// Dims of a tensor the fuzzer chose: rank 0-4, each -2..13 (a batch of up to 13 samples of 20 is valid).
std::vector<int64_t> dims_of(Bytes& in, std::vector<float>* data) {
  std::vector<int64_t> dims(in.take<uint8_t>() % 5);
  int64_t n = 1;
  for (auto& d : dims) {
    d = static_cast<int64_t>(in.take<uint8_t>() % 16) - 2;
    if (d == 11) d = 20;  // the model's feature count, often
    n *= d > 0 ? d : 1;
  }
  data->assign(static_cast<size_t>(n), 0.5f);
  return dims;
}

void run_session(Bytes& in, bnfold_model* m) {
  bnfold_session_options o;
  bnfold_session_options_init(&o);
  const uint8_t size_choice = in.take<uint8_t>() % 4;  // an older, this, a larger or a nonsense struct size
  o.struct_size = size_choice == 0 ? sizeof(size_t) + sizeof(int) : size_choice == 1 ? sizeof o
                  : size_choice == 2                                  ? sizeof o + 64
                                                                      : in.take<uint8_t>();
  if (o.struct_size > sizeof o) o.struct_size = sizeof o;  // the caller's struct is this big: no over-read by us
  o.threads = in.take<int8_t>() % 8;                       // -7..7: creating 64 threads per input would crawl
  if (in.take<uint8_t>() == 255) o.threads = in.take<int32_t>();  // and now and then anything at all
  o.bn_mode = in.take<int8_t>();
  o.monitor_every = in.take<int8_t>();
  o.reference_kernels = in.take<uint8_t>() % 3;
  o.direct_convolution = in.take<uint8_t>() % 3;
  bnfold_session* s = nullptr;
  const bnfold_status created = bnfold_session_create_with_options(m, &o, &s);
  refused_says_why(created);
  if (created != BNFOLD_OK) return;
  std::vector<float> data;
  const std::vector<int64_t> dims = dims_of(in, &data);
  const bnfold_input x{in.take<uint8_t>() % 8 ? "input" : "no_such_input", data.data(), dims.data(), dims.size()};
  const bnfold_input twice[] = {x, x};  // none, one, or the same name twice
  bnfold_outputs* out = nullptr;
  const bnfold_status ran = bnfold_session_run(s, twice, in.take<uint8_t>() % 3, &out);
  refused_says_why(ran);
  if (ran == BNFOLD_OK) bnfold_outputs_free(out);
  char* report = nullptr;
  const int iterations = static_cast<int>(in.take<int8_t>()) % 4;  // -3..3
  const bnfold_status profiled = bnfold_session_profile(s, &x, 1, iterations, &report);
  refused_says_why(profiled);
  if (profiled == BNFOLD_OK) bnfold_string_free(report);
  bnfold_stats* snap = nullptr;
  if (bnfold_session_snapshot(s, &snap) == BNFOLD_OK) bnfold_stats_free(snap);
  bnfold_session_free(s);
}

void collect(Bytes& in, bnfold_model* m) {
  bnfold_stats_collector* c = nullptr;
  const int threads = static_cast<int>(in.take<int8_t>()) % 4;  // -3..3
  const bnfold_status created = bnfold_stats_collector_create(m, threads, &c);
  refused_says_why(created);
  if (created != BNFOLD_OK) return;
  for (int k = in.take<uint8_t>() % 4; k > 0; --k) {
    std::vector<float> data;
    const std::vector<int64_t> dims = dims_of(in, &data);
    refused_says_why(bnfold_stats_collector_add(c, data.data(), dims.data(), dims.size()));
  }
  bnfold_stats* st = nullptr;
  const bnfold_status got = bnfold_stats_collector_result(c, &st);
  refused_says_why(got);
  if (got == BNFOLD_OK) {
    bnfold_verdict v;
    char* report = nullptr;
    if (bnfold_drift(m, st, in.take<uint8_t>() % 2 ? st : nullptr, &v, &report) == BNFOLD_OK)
      bnfold_string_free(report);
    // Recalibrated from them with any prior (negative, NaN, huge), on a copy:
    // the shared model stays as loaded.
    bnfold_model* copy = nullptr;
    if (in.take<uint8_t>() % 2 && bnfold_model_load(BNFOLD_MODELS_DIR "/mlp_bn.onnx", &copy) == BNFOLD_OK) {
      const double prior = in.take<uint8_t>() % 2 ? in.take<double>() : static_cast<double>(in.take<int8_t>());
      const bnfold_status recal = bnfold_model_recalibrate_prior(copy, st, prior, in.take<uint8_t>() % 2, &report);
      refused_says_why(recal);
      if (recal == BNFOLD_OK) bnfold_string_free(report);
      bnfold_model_free(copy);
    }
    bnfold_stats_free(st);
  }
  bnfold_stats_collector_free(c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bnfold_model* m = model();
  if (!m) __builtin_trap();  // the bundled model must load
  Bytes in(data, size);
  if (in.take<uint8_t>() % 2) run_session(in, m);
  else collect(in, m);
  return 0;
}
