#include "tools/commands.hpp"

#include <CLI/CLI.hpp>

namespace bnfold::cli {

void add_threads_option(CLI::App* cmd, int& threads, const char* what) {
  cmd->add_option("-t,--threads", threads, what)->capture_default_str();
}

void on_run(CLI::App* cmd, std::function<int()> action) {
  cmd->callback([action = std::move(action)] {
    if (const int code = action()) throw CLI::RuntimeError(code);
  });
}

}  // namespace bnfold::cli
