// Each bnfold subcommand registers its options and its action on the CLI app.
#pragma once

namespace CLI {
class App;
}

namespace bnfold::cli {

void add_inspect(CLI::App& app);
void add_run(CLI::App& app);
void add_bench(CLI::App& app);
void add_fold(CLI::App& app);
void add_bn_commands(CLI::App& app);  // audit, drift, recalibrate

}  // namespace bnfold::cli
