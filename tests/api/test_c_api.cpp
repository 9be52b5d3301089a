// The C API: every call returns a status; bad paths, wrong input names and
// wrong shapes give readable messages; handles free cleanly (the sanitizer
// build runs this under AddressSanitizer's leak checker).
#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include "bnfold/version.hpp"
#include "bnfold/bnfold.h"

#include <nlohmann/json.hpp>
#include "bnfold/graph/tensor_io.hpp"
#include "tests/onnx_builder.hpp"

using Catch::Matchers::Contains;

namespace {
const std::string kTiny = std::string(BNFOLD_MODELS_DIR) + "/tiny_resnet.onnx";
}

TEST_CASE("C API: load, fold, save, run, free", "[c_api]") {
  bnfold_model* model = nullptr;
  REQUIRE(bnfold_model_load(kTiny.c_str(), &model) == BNFOLD_OK);
  int folded = 0, total = 0;
  REQUIRE(bnfold_model_fold(model, &folded, &total) == BNFOLD_OK);
  CHECK(folded == 7);
  CHECK(total == 7);
  bnfold_session* s = nullptr;
  REQUIRE(bnfold_session_create(model, 1, &s) == BNFOLD_OK);
  REQUIRE(bnfold_session_input_count(s) == 1);
  CHECK(std::string(bnfold_session_input_name(s, 0)) == "input");
  CHECK(bnfold_session_input_name(s, 5) == nullptr);

  std::vector<float> x(2 * 3 * 32 * 32, 0.25f);
  const int64_t dims[4] = {2, 3, 32, 32};
  bnfold_input in = {"input", x.data(), dims, 4};
  bnfold_outputs* out = nullptr;
  REQUIRE(bnfold_session_run(s, &in, 1, &out) == BNFOLD_OK);
  REQUIRE(bnfold_outputs_count(out) == 1);
  CHECK(std::string(bnfold_outputs_name(out, 0)) == "output");
  REQUIRE(bnfold_outputs_rank(out, 0) == 2);
  CHECK(bnfold_outputs_dims(out, 0)[1] == 10);
  CHECK(bnfold_outputs_data(out, 0) != nullptr);
  bnfold_outputs_free(out);

  in.name = "image";
  CHECK(bnfold_session_run(s, &in, 1, &out) == BNFOLD_INVALID_ARGUMENT);
  CHECK(out == nullptr);
  CHECK_THAT(bnfold_last_error(), Contains("unknown input 'image'"));
  in.name = "input";
  const bnfold_input same_twice[2] = {in, in};
  CHECK(bnfold_session_run(s, same_twice, 2, &out) == BNFOLD_INVALID_ARGUMENT);
  CHECK(out == nullptr);
  CHECK_THAT(bnfold_last_error(), Contains("input 'input' is given twice"));
  const int64_t bad[4] = {2, 4, 32, 32};
  in.dims = bad;
  CHECK(bnfold_session_run(s, &in, 1, &out) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("input 'input' dim 1 must be 3"));
  CHECK(bnfold_session_run(s, nullptr, 1, &out) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("inputs is NULL"));

  bnfold_session_free(s);
  bnfold_model_free(model);
  bnfold_model_free(nullptr);
  bnfold_session_free(nullptr);
  bnfold_outputs_free(nullptr);
}

TEST_CASE("C API: errors are statuses with messages", "[c_api]") {
  bnfold_model* model = reinterpret_cast<bnfold_model*>(0x1);
  CHECK(bnfold_model_load("/no/such/model.onnx", &model) == BNFOLD_IO_ERROR);
  CHECK(model == nullptr);
  CHECK_THAT(bnfold_last_error(), Contains("/no/such/model.onnx: no such file"));
  const char garbage[] = "not a model";
  CHECK(bnfold_model_load_bytes(garbage, sizeof garbage, &model) == BNFOLD_INVALID_MODEL);
  CHECK_THAT(bnfold_last_error(), Contains("not an ONNX model"));
  CHECK(bnfold_model_load(nullptr, &model) == BNFOLD_INVALID_ARGUMENT);
  CHECK(std::string(bnfold_version()) == BNFOLD_VERSION_STRING);
}

TEST_CASE("C API: model and session describe their inputs and outputs", "[c_api]") {
  bnfold_model* model = nullptr;
  REQUIRE(bnfold_model_load(kTiny.c_str(), &model) == BNFOLD_OK);
  REQUIRE(bnfold_model_input_count(model) == 1);
  REQUIRE(bnfold_model_output_count(model) == 1);
  bnfold_tensor_info in{};
  REQUIRE(bnfold_model_input_info(model, 0, &in) == BNFOLD_OK);
  CHECK(std::string(in.name) == "input");
  CHECK(std::string(in.dtype) == "float32");
  REQUIRE(in.rank_known == 1);
  REQUIRE(in.rank == 4);
  CHECK(in.dims[0] == -1);  // the batch: symbolic
  CHECK(std::string(in.dim_params[0]) == "N");
  CHECK(in.dims[1] == 3);
  CHECK(std::string(in.dim_params[1]).empty());
  CHECK(bnfold_model_input_info(model, 1, &in) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("out of range"));
  bnfold_session_options o;
  bnfold_session_options_init(&o);
  CHECK(o.struct_size == sizeof o);
  CHECK(o.direct_convolution == 0);  // Winograd kernels where they pay
  o.threads = 1;
  bnfold_session* s = nullptr;
  o.direct_convolution = 1;
  REQUIRE(bnfold_session_create_with_options(model, &o, &s) == BNFOLD_OK);
  bnfold_session_free(s);
  o.direct_convolution = 0;
  REQUIRE(bnfold_session_create_with_options(model, &o, &s) == BNFOLD_OK);
  bnfold_session_free(s);
  CHECK(o.precision == BNFOLD_PRECISION_FP32);
  o.precision = BNFOLD_PRECISION_BF16;  // made where the CPU has bf16, refused with the reason elsewhere
  if (bnfold_bfloat16_supported()) {
    REQUIRE(bnfold_session_create_with_options(model, &o, &s) == BNFOLD_OK);
    bnfold_session_free(s);
  } else {
    CHECK(bnfold_session_create_with_options(model, &o, &s) == BNFOLD_UNSUPPORTED);
    CHECK_THAT(bnfold_last_error(), Contains("AVX512-BF16"));
  }
  o.precision = 9;
  CHECK(bnfold_session_create_with_options(model, &o, &s) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("precision 9"));
  o.precision = BNFOLD_PRECISION_FP32;
  REQUIRE(bnfold_session_create_with_options(model, &o, &s) == BNFOLD_OK);
  bnfold_tensor_info out{};
  REQUIRE(bnfold_session_output_count(s) == 1);
  REQUIRE(bnfold_session_output_info(s, 0, &out) == BNFOLD_OK);
  CHECK(std::string(out.name) == "output");
  bnfold_session_free(s);
  // A struct from an older header (only struct_size and threads) gets defaults for the rest.
  o.struct_size = offsetof(bnfold_session_options, bn_mode);
  o.bn_mode = 7;  // beyond the struct the caller has: not read
  REQUIRE(bnfold_session_create_with_options(model, &o, &s) == BNFOLD_OK);
  bnfold_session_free(s);
  o.struct_size = sizeof o;
  CHECK(bnfold_session_create_with_options(model, &o, &s) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("bn_mode 7"));
  o.struct_size = 0;
  CHECK(bnfold_session_create_with_options(model, &o, &s) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("struct_size"));
  bnfold_model_free(model);
}

TEST_CASE("C API: monitoring, statistics, drift and recalibration", "[c_api][monitor]") {
  bnfold_model* model = nullptr;
  REQUIRE(bnfold_model_load(kTiny.c_str(), &model) == BNFOLD_OK);
  bnfold_session_options o;
  bnfold_session_options_init(&o);
  o.threads = 1;
  o.monitor_every = 2;
  bnfold_session* s = nullptr;
  REQUIRE(bnfold_session_create_with_options(model, &o, &s) == BNFOLD_OK);
  bnfold_stats* served = nullptr;
  CHECK(bnfold_session_snapshot(s, &served) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("no run was monitored"));
  // Shifted data (x0.5 + 1 of the calibration's 1.5 N(0,1) + 0.3), 4 runs of 8.
  std::vector<float> x(8 * 3 * 32 * 32);
  uint32_t r = 1;
  for (float& v : x) {
    r = r * 1664525u + 1013904223u;
    v = 0.5f * (1.5f * ((r >> 8) / 16777216.0f - 0.5f) * 3.46f + 0.3f) + 1.0f;
  }
  const int64_t dims[4] = {8, 3, 32, 32};
  bnfold_input in = {"input", x.data(), dims, 4};
  bnfold_stats_collector* c = nullptr;
  REQUIRE(bnfold_stats_collector_create(model, 1, &c) == BNFOLD_OK);
  for (int k = 0; k < 4; ++k) {
    bnfold_outputs* out = nullptr;
    REQUIRE(bnfold_session_run(s, &in, 1, &out) == BNFOLD_OK);
    bnfold_outputs_free(out);
    if (k % 2 == 0) REQUIRE(bnfold_stats_collector_add(c, x.data(), dims, 4) == BNFOLD_OK);
  }
  int64_t runs = 0, sampled = 0;
  REQUIRE(bnfold_session_monitor_counts(s, &runs, &sampled) == BNFOLD_OK);
  CHECK(runs == 4);
  CHECK(sampled == 2);
  REQUIRE(bnfold_session_snapshot(s, &served) == BNFOLD_OK);
  bnfold_stats* offline = nullptr;
  REQUIRE(bnfold_stats_collector_result(c, &offline) == BNFOLD_OK);
  CHECK(bnfold_stats_samples(served) == 16);
  CHECK(bnfold_stats_samples(offline) == 16);
  bnfold_verdict a = BNFOLD_IN_DISTRIBUTION, b = BNFOLD_IN_DISTRIBUTION;
  char* json = nullptr;
  REQUIRE(bnfold_drift(model, served, nullptr, &a, &json) == BNFOLD_OK);
  CHECK_THAT(json, Contains("\"verdict\""));
  bnfold_string_free(json);
  REQUIRE(bnfold_drift(model, offline, nullptr, &b, nullptr) == BNFOLD_OK);
  CHECK(a == b);
  CHECK(a == BNFOLD_TOO_FEW_SAMPLES);  // 16 < 30 samples
  // Save, load, merge; a collector fed the wrong shape says so.
  bnfold::test::TempDir dir;
  const std::string path = dir.file("served.json");
  REQUIRE(bnfold_stats_save(served, path.c_str()) == BNFOLD_OK);
  bnfold_stats* loaded = nullptr;
  REQUIRE(bnfold_stats_load(path.c_str(), &loaded) == BNFOLD_OK);
  REQUIRE(bnfold_stats_merge(loaded, offline) == BNFOLD_OK);
  CHECK(bnfold_stats_samples(loaded) == 32);
  REQUIRE(bnfold_drift(model, loaded, nullptr, &a, nullptr) == BNFOLD_OK);
  CHECK(a == BNFOLD_DRIFTED);
  const int64_t wrong[4] = {8, 3, 16, 64};
  CHECK(bnfold_stats_collector_add(c, x.data(), wrong, 4) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("dim 2 must be 32"));
  // Mixed with a prior: a negative pseudo-count is refused; one that outweighs
  // the data's 32 samples a trillion times over leaves the model as it was
  // (still drifted); a prior of 16 moves it only part of the way.
  {
    bnfold_model* copy = nullptr;
    REQUIRE(bnfold_model_load(kTiny.c_str(), &copy) == BNFOLD_OK);
    CHECK(bnfold_model_recalibrate_prior(copy, loaded, -1, 0, nullptr) == BNFOLD_INVALID_ARGUMENT);
    CHECK_THAT(bnfold_last_error(), Contains("prior"));
    REQUIRE(bnfold_model_recalibrate_prior(copy, loaded, 32e12, 0, &json) == BNFOLD_OK);
    CHECK_THAT(json, Contains("\"prior\": 32000000000000"));
    bnfold_string_free(json);
    bnfold_verdict v = BNFOLD_IN_DISTRIBUTION;
    REQUIRE(bnfold_drift(copy, loaded, nullptr, &v, nullptr) == BNFOLD_OK);
    CHECK(v == BNFOLD_DRIFTED);
    bnfold_model_free(copy);
  }
  // Recalibrated to this data, the model no longer sees it as drifted.
  REQUIRE(bnfold_model_recalibrate(model, loaded, 0, &json) == BNFOLD_OK);
  CHECK_THAT(json, Contains("\"mode\""));
  bnfold_string_free(json);
  REQUIRE(bnfold_drift(model, loaded, nullptr, &a, nullptr) == BNFOLD_OK);
  CHECK(a == BNFOLD_IN_DISTRIBUTION);
  // Folded, with the report; the folded model is monitored too.
  REQUIRE(bnfold_model_fold_report(model, &json) == BNFOLD_OK);
  CHECK_THAT(json, Contains("\"batchnorms\""));
  bnfold_string_free(json);
  bnfold_session* fs = nullptr;
  o.monitor_every = 1;
  REQUIRE(bnfold_session_create_with_options(model, &o, &fs) == BNFOLD_OK);
  bnfold_outputs* out = nullptr;
  REQUIRE(bnfold_session_run(fs, &in, 1, &out) == BNFOLD_OK);
  bnfold_outputs_free(out);
  bnfold_stats* folded = nullptr;
  REQUIRE(bnfold_session_snapshot(fs, &folded) == BNFOLD_OK);
  CHECK(bnfold_stats_samples(folded) == 8);
  CHECK(bnfold_stats_merge(folded, offline) == BNFOLD_OK);  // the same BNs as the unfolded model
  bnfold_stats_free(folded);
  bnfold_session_free(fs);
  bnfold_stats_free(loaded);
  bnfold_stats_free(served);
  bnfold_stats_free(offline);
  bnfold_stats_collector_free(c);
  bnfold_session_free(s);
  bnfold_model_free(model);
  bnfold_stats_free(nullptr);
  bnfold_string_free(nullptr);
}

TEST_CASE("C API: inspect, verify a fold, profile a session", "[c_api]") {
  bnfold_model *model = nullptr, *folded = nullptr;
  REQUIRE(bnfold_model_load(kTiny.c_str(), &model) == BNFOLD_OK);
  REQUIRE(bnfold_model_load(kTiny.c_str(), &folded) == BNFOLD_OK);
  char* json = nullptr;
  REQUIRE(bnfold_model_inspect(model, &json) == BNFOLD_OK);
  CHECK_THAT(json, Contains("\"batchnorms\"") && Contains("\"op_counts\""));
  bnfold_string_free(json);
  REQUIRE(bnfold_model_fold(folded, nullptr, nullptr) == BNFOLD_OK);
  int ok = 0;
  REQUIRE(bnfold_verify(model, folded, &ok, &json) == BNFOLD_OK);
  CHECK(ok == 1);
  CHECK_THAT(json, Contains("\"ok\": true") || Contains("\"ok\":true"));
  bnfold_string_free(json);
  bnfold_session* s = nullptr;
  REQUIRE(bnfold_session_create(folded, 1, &s) == BNFOLD_OK);
  std::vector<float> x(3 * 32 * 32, 0.5f);
  const int64_t dims[4] = {1, 3, 32, 32};
  bnfold_input in = {"input", x.data(), dims, 4};
  REQUIRE(bnfold_session_profile(s, &in, 1, 2, &json) == BNFOLD_OK);
  CHECK_THAT(json, Contains("\"implementation\"") && Contains("oneDNN"));
  bnfold_string_free(json);
  CHECK(bnfold_session_profile(s, &in, 1, 2, nullptr) == BNFOLD_INVALID_ARGUMENT);
  const bnfold_input twice[2] = {in, in};
  CHECK(bnfold_session_profile(s, twice, 2, 1, &json) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("input 'input' is given twice"));
  // The library's own checks reach C callers as statuses, not garbage or a crash.
  for (const int iterations : {0, -5}) {
    CHECK(bnfold_session_profile(s, &in, 1, iterations, &json) == BNFOLD_INVALID_ARGUMENT);
    CHECK_THAT(bnfold_last_error(), Contains("at least 1 iteration"));
  }
  bnfold_session_free(s);
  for (const int threads : {-1, 100000}) {
    bnfold_session* bad = nullptr;
    CHECK(bnfold_session_create(folded, threads, &bad) == BNFOLD_INVALID_ARGUMENT);
    CHECK_THAT(bnfold_last_error(), Contains("threads"));
    CHECK(bad == nullptr);
  }
  // Recalibration and the audit from data files.
  bnfold::test::TempDir dir;
  bnfold::Tensor batch(bnfold::DType::Float32, {8, 3, 32, 32});
  for (int64_t i = 0; i < batch.numel(); ++i)
    batch.mutable_data_as<float>()[i] = static_cast<float>((i * 7919) % 1000) / 400.0f - 1.0f;
  const std::string npy = dir.file("x.npy");
  bnfold::save_npy(batch, npy);
  const char* paths[] = {npy.c_str()};
  bnfold_stats* stats = nullptr;
  CHECK(bnfold_stats_collect_files(model, paths, 1, -4, 1, &stats) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("batch -4 is outside [1, 2^31]"));
  REQUIRE(bnfold_stats_collect_files(model, paths, 1, 0, 1, &stats) == BNFOLD_OK);  // 0: the default, 32
  bnfold_stats_free(stats);
  REQUIRE(bnfold_audit_files(model, paths, 1, 1, &json) == BNFOLD_OK);
  CHECK_THAT(json, Contains("\"culprits\""));
  bnfold_string_free(json);
  // The shift study: without labels, agreement with the clean predictions; options as JSON.
  REQUIRE(bnfold_shift_study_files(model, paths, 1, nullptr,
                                   R"({"families": ["haze", "jpeg"], "severities": [1, 5], "recalibrate_on": [4],
                                       "prior": 8, "pixel_range": [-1, 1.5]})",
                                   1, &json) == BNFOLD_OK);
  {
    const auto j = nlohmann::json::parse(json);
    CHECK(j["metric"] == "agreement");
    CHECK(j["cells"].size() == 4);
    CHECK(j["variants"].size() == 2);  // k=4 replaced and mixed
    CHECK(j["clean"]["accuracy"] == 1.0);
    CHECK(j["samples"] == 8);
  }
  bnfold_string_free(json);
  for (const char* bad : {R"({"severity": [1]})", R"({"severities": [7]})", "not json", R"({"prior": "x"})"}) {
    json = nullptr;
    CHECK(bnfold_shift_study_files(model, paths, 1, nullptr, bad, 1, &json) == BNFOLD_INVALID_ARGUMENT);
    CHECK(json == nullptr);
  }
  CHECK_THAT(bnfold_last_error(), Contains("options_json"));
  REQUIRE(bnfold_model_recalibrate_files(model, paths, 1, 1, 1, &json) == BNFOLD_OK);
  CHECK_THAT(json, Contains("\"update_bn\""));
  bnfold_string_free(json);
  CHECK(bnfold_model_recalibrate_files(folded, paths, 1, 0, 1, nullptr) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("the model was folded"));
  bnfold_model_free(folded);
  bnfold_model_free(model);
}

TEST_CASE("C API: quantize with data and without", "[c_api][quantization]") {
  bnfold_model* model = nullptr;
  REQUIRE(bnfold_model_load(kTiny.c_str(), &model) == BNFOLD_OK);
  bnfold::test::TempDir dir;
  bnfold::Tensor x(bnfold::DType::Float32, {16, 3, 32, 32});
  for (int64_t i = 0; i < x.numel(); ++i) x.mutable_data_as<float>()[i] = static_cast<float>((i * 7919) % 1000) / 250.0f - 2.0f;
  const std::string data = dir.file("x.npy");
  bnfold::save_npy(x, data);
  const std::string out = dir.file("tiny.int8.onnx");
  const char* paths[] = {data.c_str()};
  char* json = nullptr;
  REQUIRE(bnfold_quantize_files(model, paths, 1, nullptr, R"({"batch": 8, "check_samples": 16})", out.c_str(), 1,
                                &json) == BNFOLD_OK);
  {
    const auto j = nlohmann::json::parse(json);
    CHECK(j["ranges_from"].get<std::string>().rfind("calibration data", 0) == 0);
    CHECK(j["layers"].size() == 8);  // 7 convolutions and the Gemm
    CHECK(j["check"]["samples"] == 16);
  }
  bnfold_string_free(json);
  bnfold_model* q = nullptr;
  REQUIRE(bnfold_model_load(out.c_str(), &q) == BNFOLD_OK);  // the QDQ model loads and runs
  bnfold_session* s = nullptr;
  REQUIRE(bnfold_session_create(q, 1, &s) == BNFOLD_OK);
  bnfold_session_free(s);
  // Judged against the float model (verify in precision mode): on the data, and on random inputs.
  REQUIRE(bnfold_check_precision_files(model, q, BNFOLD_PRECISION_FP32, paths, 1, nullptr, R"({"samples": 12})", 1,
                                       &json) == BNFOLD_OK);
  {
    const auto j = nlohmann::json::parse(json);
    CHECK(j["precision"] == "int8");
    CHECK(j["samples"] == 12);
    CHECK(j["judged_by"] == "relative error");
    CHECK(j["outputs"][0]["relative_rms"].get<double>() > 0);
  }
  bnfold_string_free(json);
  json = nullptr;
  CHECK(bnfold_check_precision_files(model, model, BNFOLD_PRECISION_FP32, nullptr, 0, nullptr, nullptr, 1, &json) ==
        BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("no reduced precision"));
  CHECK(bnfold_check_precision_files(model, q, 7, nullptr, 0, nullptr, nullptr, 1, &json) == BNFOLD_INVALID_ARGUMENT);
  CHECK(bnfold_check_precision_files(model, q, 0, nullptr, 0, nullptr, R"({"samples": "x"})", 1, &json) ==
        BNFOLD_INVALID_ARGUMENT);
  CHECK(json == nullptr);
  bnfold_model_free(q);
  // Without data: ranges from the BN statistics and the input range (tiny_resnet's residual Adds have none:
  // refused, naming the tensor); bad options name themselves.
  CHECK(bnfold_quantize_files(model, nullptr, 0, nullptr, R"({"input_range": [-2, 2]})", out.c_str(), 1, &json) ==
        BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("no range for") && Contains("--data"));
  bnfold_model* factory = nullptr;
  REQUIRE(bnfold_model_load((std::string(BNFOLD_MODELS_DIR) + "/factory_cnn.onnx").c_str(), &factory) == BNFOLD_OK);
  REQUIRE(bnfold_quantize_files(factory, nullptr, 0, nullptr, R"({"input_range": [-2, 2], "bias_correction": true})",
                                out.c_str(), 1, &json) == BNFOLD_OK);
  CHECK(nlohmann::json::parse(json)["ranges_from"] == "BN statistics");
  bnfold_string_free(json);
  bnfold_model_free(factory);
  for (const char* bad : {R"({"range": [1, 2]})", R"({"equalize": 3})", R"({"input_range": [2, 1]})"}) {
    json = nullptr;
    CHECK(bnfold_quantize_files(model, nullptr, 0, nullptr, bad, out.c_str(), 1, &json) == BNFOLD_INVALID_ARGUMENT);
    CHECK(json == nullptr);
  }
  CHECK(bnfold_quantize_files(model, paths, 1, nullptr, R"({"input_range": [-2, 2]})", out.c_str(), 1, &json) ==
        BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("input_range is for quantizing without data"));
  CHECK(bnfold_quantize_files(model, nullptr, 0, nullptr, nullptr, nullptr, 1, &json) == BNFOLD_INVALID_ARGUMENT);
  CHECK_THAT(bnfold_last_error(), Contains("out_path"));
  bnfold_model_free(model);
}
