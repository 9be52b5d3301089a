#include "tools/commands.hpp"

#include "bnfold/graph/memory.hpp"
#include "bnfold/graph/numbers.hpp"
#include "bnfold/runtime/session.hpp"

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
        const auto parsed = parse_double(text);
        if (!parsed) return fmt::format("'{}' is not a number", text);
        const double v = *parsed;
        if (!std::isfinite(v) || v < lo || v > hi) return fmt::format("{} is outside {}", text, range);
        return "";
      },
      range));
}

void add_threads_option(CLI::App* cmd, int& threads, const char* what) {
  // The library's own limit (Session refuses more): 4 per core, 64 at least.
  in_range(cmd->add_option("-t,--threads", threads, what)->capture_default_str(), 0, max_thread_count());
}

void add_precision_option(CLI::App* cmd, std::string& precision) {
  cmd->add_option("--precision", precision,
                  "fp32, or bf16: convolutions, Gemm and MatMul (and the steps between them) in bfloat16 with "
                  "float32 accumulation, float32 at the model's inputs and outputs; about 3 significant digits. "
                  "Needs a CPU with AVX512-BF16 or AMX")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
}

void add_seed_option(CLI::App* cmd, uint64_t& seed, const char* what) {
  cmd->add_option("--seed", seed, what)
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            const auto v = parse_uint64(text);
            if (!v || text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
              return fmt::format("{} is not a whole number in [0, 18446744073709551615]", text);
            return "";
          },
          "[0, 2^64-1]"));
}

namespace {
std::string g_max_memory;  // --max-memory, applied before any command runs
}

void add_global_options(CLI::App& app) {
  app.add_option("--max-memory", g_max_memory,
                 fmt::format("Memory limit for tensors and plans, e.g. 512M or 4G (default {:.1f} GiB: 3/4 of the "
                             "smallest of physical memory, ulimit -v and the cgroup's limit); also after the command",
                             static_cast<double>(default_memory_limit()) / (1 << 30)));
  app.fallthrough();  // `bnfold run --max-memory 4G ...` reaches the app's option
}

void on_run(CLI::App* cmd, std::function<int()> action) {
  cmd->callback([action = std::move(action)] {
    if (!g_max_memory.empty()) set_memory_limit(parse_memory_size(g_max_memory, "--max-memory"));
    if (const int code = action()) throw CLI::RuntimeError(code);
  });
}

}  // namespace bnfold::cli
