// bnfold: the command-line front end. Commands only parse arguments, call the
// library and print; errors from the library arrive as bnfold::Error and are
// printed as one line with a non-zero exit code.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>

#include "bnfold/graph/error.hpp"
#include "tools/commands.hpp"

namespace {

// The data commands make long passes with OpenMP. By default libgomp's idle
// threads spin before they sleep; on a machine other jobs share, the spinning
// threads take the cores from those jobs and from each other (measured, 2
// cores with two other busy processes: drift over 4,000 samples of
// tiny_resnet 5.0-9.3 s at the default, 2.5-3.2 s with passive waiting,
// 2.2-2.6 s on one thread). libgomp reads OMP_WAIT_POLICY once, when it is
// loaded, before main: so these commands start again with it set, unless the
// user set it. run and bench keep spinning: they measure latency.
void wait_passively_in_data_commands(char** argv) {
  if (!argv[1] || std::getenv("OMP_WAIT_POLICY")) return;
  const char* cmd = argv[1];
  if (std::strcmp(cmd, "drift") != 0 && std::strcmp(cmd, "audit") != 0 && std::strcmp(cmd, "recalibrate") != 0)
    return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then go on as we are
}

}  // namespace

int main(int argc, char** argv) {
  wait_passively_in_data_commands(argv);
  CLI::App app{
      "bnfold: fold BatchNormalization into neighbouring layers of ONNX models, run them on "
      "CPUs with oneDNN, and expose where a model behaves differently in training and "
      "inference.",
      "bnfold"};
  app.set_version_flag("--version", std::string("bnfold ") + BNFOLD_VERSION);
  app.require_subcommand(1);
  app.footer("Run 'bnfold COMMAND --help' for a command's options and examples.");
  bnfold::cli::add_global_options(app);
  bnfold::cli::add_inspect(app);
  bnfold::cli::add_fold(app);
  bnfold::cli::add_verify(app);
  bnfold::cli::add_run(app);
  bnfold::cli::add_bench(app);
  bnfold::cli::add_drift(app);
  bnfold::cli::add_recalibrate(app);
  bnfold::cli::add_audit(app);
  bnfold::cli::add_serve(app);
  bnfold::cli::add_shift_study(app);
  bnfold::cli::add_quantize(app);
  if (argc == 1) {  // a bare "bnfold" gets the overview, not just "subcommand required"
    std::cerr << app.help();
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command's own exit code (drift --fail-above: 3)
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 1, as other errors do.
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const bnfold::Error& e) {
    std::fprintf(stderr, "bnfold: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "bnfold: error: out of memory (lower --max-memory to be refused earlier, with the "
                         "tensor named)\n");
    return 1;
  } catch (const std::exception& e) {
    // A bug: every expected failure is a bnfold::Error naming what failed.
    std::fprintf(stderr, "bnfold: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
