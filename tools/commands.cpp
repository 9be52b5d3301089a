#include "tools/commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <string>

namespace bnfold::cli {

void in_range(CLI::Option* option, double lo, double hi) {
  const std::string range =
      hi >= kNoLimit ? fmt::format("[{:g}, inf)", lo) : fmt::format("[{:g}, {:g}]", lo, hi);
  option->check(CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return fmt::format("'{}' is not a number", text);
        } catch (const std::exception&) {
          return fmt::format("'{}' is not a number", text);
        }
        if (!std::isfinite(v) || v < lo || v > hi) return fmt::format("{} is outside {}", text, range);
        return "";
      },
      range));
}

void add_threads_option(CLI::App* cmd, int& threads, const char* what) {
  in_range(cmd->add_option("-t,--threads", threads, what)->capture_default_str(), 0, 1024);
}

void on_run(CLI::App* cmd, std::function<int()> action) {
  cmd->callback([action = std::move(action)] {
    if (const int code = action()) throw CLI::RuntimeError(code);
  });
}

}  // namespace bnfold::cli
