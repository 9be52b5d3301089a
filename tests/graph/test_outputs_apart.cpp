// No output of a command or call may replace one of its inputs or another of
// its outputs, however the path is written (check_outputs_apart).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bnfold/graph/atomic_file.hpp"
#include "tests/onnx_builder.hpp"

using namespace bnfold;
using Catch::Matchers::Contains;

TEST_CASE("an output that would replace an input or another output is refused, however it is named",
          "[errors][outputs]") {
  test::TempDir dir;
  const std::string model = dir.write("m.onnx", "model bytes");
  std::filesystem::create_directory(dir.file("data"));
  const std::string sample = dir.write("data/x.npy", "sample");
  REQUIRE(::link(model.c_str(), dir.file("hard.onnx").c_str()) == 0);
  std::filesystem::create_symlink(model, dir.file("soft.onnx"));
  const std::vector<NamedPath> inputs = {{"the model", model}, {"--data", dir.file("data")}, {"--labels", ""}};
  for (const std::string& same : {model, dir.path() + "/./m.onnx", dir.path() + "/data/../m.onnx",
                                  dir.file("hard.onnx"), dir.file("soft.onnx")}) {
    CAPTURE(same);
    CHECK_THROWS_WITH(check_outputs_apart(inputs, {{"--report", same}}),
                      Contains("--report " + same + " would overwrite the model"));
  }
  CHECK_THROWS_WITH(check_outputs_apart(inputs, {{"--save-stats", sample}}),
                    Contains("would overwrite a file of --data"));
  CHECK_THROWS_WITH(check_outputs_apart(inputs, {{"-o", dir.file("f.onnx")}, {"--report", dir.file("./f.onnx")}}),
                    Contains("-o and --report both name"));
  // A new file, in the data's folder or elsewhere, and empty (absent) paths are fine.
  CHECK_NOTHROW(check_outputs_apart(inputs, {{"-o", dir.file("f.onnx")}, {"--report", ""},
                                             {"--html", dir.file("data/report.html")}}));
  std::ifstream in(model);
  std::string text;
  std::getline(in, text);
  CHECK(text == "model bytes");
}
