// Every ONNX conformance model (copied into tests/data/onnx-tests) imports,
// passes verify(), and survives export -> ONNX checker -> import unchanged:
// the same dump and the same bytes in every tensor. Models bnfold refuses must
// be refused with the reason listed in tests/data/import_rejections.txt (the
// list in docs/onnx-import.md follows the same file).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bnfold/graph/error.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "tests/onnx_builder.hpp"

namespace fs = std::filesystem;
using namespace bnfold;

namespace {

const std::string kData = BNFOLD_TEST_DATA;

std::vector<std::string> conformance_cases() {
  std::vector<std::string> cases;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    for (const auto& entry : fs::directory_iterator(kData + "/onnx-tests/" + suite))
      if (fs::exists(entry.path() / "model.onnx"))
        cases.push_back(std::string(suite) + "/" + entry.path().filename().string());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

// case -> the text its error must contain
std::map<std::string, std::string> expected_rejections() {
  std::map<std::string, std::string> out;
  std::ifstream in(kData + "/import_rejections.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab != std::string::npos) out[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return out;
}

// "" when the round trip preserves everything, else what differs.
std::string round_trip(const Graph& g, const std::string& out_path) {
  save_onnx(g, out_path);  // runs ONNX's checker on the written file
  const auto g2 = load_onnx(out_path);
  g2->verify();
  if (g2->dump() != g.dump()) return "dump differs:\n" + g.dump() + "---\n" + g2->dump();
  const auto a = g.initializers();
  const auto b = g2->initializers();
  if (a.size() != b.size()) return "initializer count differs";
  for (const Value* v : a) {
    const Value* w = g2->find_value(v->name());
    if (!w || !w->has_data() || !w->data().same_as(v->data()))
      return "tensor bytes differ: " + v->name();
  }
  return "";
}

}  // namespace

TEST_CASE("conformance models import, verify and round-trip", "[conformance][import]") {
  const auto cases = conformance_cases();
  const auto rejections = expected_rejections();
  REQUIRE(cases.size() == 1062);  // 922 node + 82 + 35 + 23 (the README there says 81 converted)
  test::TempDir tmp;
  std::vector<std::string> problems;
  std::ostringstream observed;  // the rejection list as it should be, on mismatch
  size_t round_tripped = 0, rejected = 0;
  for (const std::string& c : cases) {
    const std::string model = kData + "/onnx-tests/" + c + "/model.onnx";
    std::unique_ptr<Graph> g;
    try {
      g = load_onnx(model);
      g->verify();
    } catch (const Error& e) {
      const std::string msg = e.what();
      observed << c << '\t' << msg.substr(msg.find(": ") + 2) << '\n';
      auto it = rejections.find(c);
      if (e.code() != ErrorCode::Unsupported)
        problems.push_back(c + ": import failed: " + msg);
      else if (it == rejections.end() || msg.find(it->second) == std::string::npos)
        problems.push_back(c + ": rejected with an unlisted reason: " + msg);
      ++rejected;
      continue;
    }
    if (rejections.count(c)) problems.push_back(c + ": listed as rejected but imports");
    try {
      const std::string diff = round_trip(*g, tmp.file("rt.onnx"));
      if (!diff.empty()) problems.push_back(c + ": " + diff);
      else ++round_tripped;
    } catch (const Error& e) {
      problems.push_back(c + ": round trip failed: " + e.what());
    }
  }
  INFO("round-tripped " << round_tripped << ", rejected " << rejected);
  if (!problems.empty()) {
    // Catch wraps long lines; the full text goes to a file in the working dir.
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    std::ofstream("conformance_import_report.txt")
        << all << "\n# observed rejections (the format of import_rejections.txt):\n"
        << observed.str();
    FAIL(problems.size() << " problem(s), listed in conformance_import_report.txt; first: "
                         << problems.front());
  }
  CHECK(round_tripped + rejected == cases.size());
  CHECK(rejected == rejections.size());
}
