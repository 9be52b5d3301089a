// Each bnfold subcommand registers its options and its action on the CLI app.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace bnfold::cli {

// -t,--threads, the same for every command that runs a model.
void add_threads_option(CLI::App* cmd, int& threads, const char* what = "Threads (0: one per core)");
// The command's action; a non-zero result becomes the process's exit code.
void on_run(CLI::App* cmd, std::function<int()> action);

void add_inspect(CLI::App& app);
void add_run(CLI::App& app);
void add_bench(CLI::App& app);
void add_fold(CLI::App& app);
void add_bn_commands(CLI::App& app);  // audit, drift, recalibrate

}  // namespace bnfold::cli
