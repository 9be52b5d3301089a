// Each bnfold subcommand registers its options and its action on the CLI app.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace CLI {
class App;
class Option;
}

namespace bnfold::cli {

// The ranges of numeric options, checked by CLI11 while parsing: a value
// outside gets "NAME: V is outside [LO, HI]" and exit code 106, like any
// other parse error; NaN and infinities are outside every range.
void in_range(CLI::Option* option, double lo, double hi);
constexpr double kNoLimit = 1e300;

// -t,--threads, the same for every command that runs a model.
void add_threads_option(CLI::App* cmd, int& threads, const char* what = "Threads (0: one per core)");
// --precision fp32|bf16 (checked while parsing; the Session refuses bf16 on a CPU without it).
void add_precision_option(CLI::App* cmd, std::string& precision);
// --seed: a whole number in [0, 2^64 - 1], refused otherwise (-1 and 2^64 once wrapped to 2^64 - 1).
void add_seed_option(CLI::App* cmd, uint64_t& seed, const char* what);
// Options of every command: --max-memory.
void add_global_options(CLI::App& app);
// The command's action; a non-zero result becomes the process's exit code.
void on_run(CLI::App* cmd, std::function<int()> action);

void add_inspect(CLI::App& app);
void add_run(CLI::App& app);
void add_bench(CLI::App& app);
void add_fold(CLI::App& app);
void add_verify(CLI::App& app);
void add_audit(CLI::App& app);
void add_drift(CLI::App& app);
void add_recalibrate(CLI::App& app);
void add_serve(CLI::App& app);
void add_shift_study(CLI::App& app);
void add_quantize(CLI::App& app);

}  // namespace bnfold::cli
