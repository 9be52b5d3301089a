// Runs the ONNX conformance cases listed in tests/data/run_manifest.txt and
// compares with ONNX's expected outputs (rtol 1e-3, atol 1e-5), once with the
// oneDNN kernels and once with the reference kernels alone.
//
// BNFOLD_CONFORMANCE_ALL=1 runs every case instead and writes the outcome of
// each to conformance_run_all.txt (how the manifest is maintained).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bnfold/graph/error.hpp"
#include "bnfold/graph/tensor_io.hpp"
#include "bnfold/runtime/session.hpp"

namespace fs = std::filesystem;
using namespace bnfold;

namespace {

const std::string kCases = std::string(BNFOLD_TEST_DATA) + "/onnx-tests/";

// "" when equal within tolerance, else the first difference.
std::string compare(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.dtype() != want.dtype())
    return std::string("dtype ") + dtype_name(got.dtype()) + " vs " + dtype_name(want.dtype());
  if (got.dims() != want.dims()) return "shape " + got.describe() + " vs " + want.describe();
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double a = got.value_at(i), b = want.value_at(i);
    if (std::isnan(a) && std::isnan(b)) continue;
    if (a == b) continue;
    if (!(std::fabs(a - b) <= atol + rtol * std::fabs(b))) {
      std::ostringstream s;
      s << "element " << i << ": " << a << " vs expected " << b;
      return s.str();
    }
  }
  return "";
}

// Runs every test_data_set of a case; "" when all match.
std::string run_case(const std::string& name, bool onednn) {
  const std::string dir = kCases + name;
  SessionOptions opts;
  opts.use_onednn = onednn;
  opts.threads = 1;
  Session session(dir + "/model.onnx", opts);
  int sets = 0;
  for (int k = 0; fs::exists(dir + "/test_data_set_" + std::to_string(k)); ++k, ++sets) {
    const std::string set = dir + "/test_data_set_" + std::to_string(k);
    std::map<std::string, Tensor> inputs;
    for (size_t i = 0; i < session.inputs().size(); ++i) {
      const std::string f = set + "/input_" + std::to_string(i) + ".pb";
      if (!fs::exists(f)) break;
      Tensor t = load_tensor_pb(f);
      // ONNX 1.12 writes bfloat16 test data as uint16 tensors of the same bits.
      if (t.dtype() == DType::UInt16 && session.inputs()[i].dtype == DType::BFloat16)
        t = Tensor::borrow(DType::BFloat16, t.dims(), t.mutable_data()).clone();
      inputs[session.inputs()[i].name] = t;
    }
    const auto outputs = session.run(inputs);
    for (size_t i = 0; i < session.outputs().size(); ++i) {
      const std::string f = set + "/output_" + std::to_string(i) + ".pb";
      if (!fs::exists(f)) continue;
      Tensor want = load_tensor_pb(f);
      if (want.dtype() == DType::UInt16 && session.outputs()[i].dtype == DType::BFloat16)
        want = Tensor::borrow(DType::BFloat16, want.dims(), want.mutable_data()).clone();
      const std::string diff = compare(outputs.at(session.outputs()[i].name), want, 1e-3, 1e-5);
      if (!diff.empty()) return "set " + std::to_string(k) + " output " + std::to_string(i) + ": " + diff;
    }
  }
  return sets == 0 ? "no test data" : "";
}

std::vector<std::string> manifest() {
  std::vector<std::string> out;
  std::ifstream in(std::string(BNFOLD_TEST_DATA) + "/run_manifest.txt");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#') out.push_back(line.substr(0, line.find('\t')));
  return out;
}

void run_manifest(bool onednn) {
  const auto cases = manifest();
  REQUIRE(cases.size() > 300);
  std::vector<std::string> failures;
  for (const auto& c : cases) {
    try {
      const std::string diff = run_case(c, onednn);
      if (!diff.empty()) failures.push_back(c + ": " + diff);
    } catch (const std::exception& e) {
      failures.push_back(c + ": " + e.what());
    }
  }
  if (!failures.empty()) {
    std::string all;
    for (const auto& f : failures) all += f + "\n";
    std::ofstream(std::string("conformance_run_failures_") + (onednn ? "onednn" : "reference") + ".txt") << all;
    FAIL(failures.size() << " of " << cases.size() << " cases fail; first: " << failures.front());
  }
  SUCCEED(cases.size() << " conformance cases pass");
}

}  // namespace

TEST_CASE("conformance cases run and match ONNX's outputs (oneDNN kernels)", "[conformance][run]") {
  run_manifest(true);
}

TEST_CASE("conformance cases run and match ONNX's outputs (reference kernels)", "[conformance][run]") {
  run_manifest(false);
}

TEST_CASE("every conformance case, for maintaining the manifest", "[.all]") {
  std::ofstream out("conformance_run_all.txt");
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    std::vector<std::string> cases;
    for (const auto& e : fs::directory_iterator(kCases + suite))
      cases.push_back(std::string(suite) + "/" + e.path().filename().string());
    std::sort(cases.begin(), cases.end());
    for (const auto& c : cases) {
      std::string result;
      try {
        result = run_case(c, true);
        if (result.empty()) result = "PASS";
      } catch (const std::exception& e) {
        result = e.what();
      }
      out << c << '\t' << result << '\n';
    }
  }
}
