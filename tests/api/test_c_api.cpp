// The C API: every call returns a status; bad paths, wrong input names and
// wrong shapes give readable messages; handles free cleanly (the sanitizer
// build runs this under AddressSanitizer's leak checker).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bnfold/version.hpp"
#include "api/bnfold.h"

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
