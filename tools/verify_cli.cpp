#include "tools/verify_cli.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "tools/commands.hpp"
#include "tools/inputs.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

const char* const kVerifyHelp =
    "Verification runs the original and the folded model in float32 on the same\n"
    "inputs and measures both against the original evaluated in float64 by the\n"
    "reference kernels. A value passes when the folded model is within\n"
    "atol + rtol |reference| everywhere, or when its max abs error is at most\n"
    "--noise-factor times the original float32 model's own error there: below\n"
    "that float32 noise floor (large in numerically chaotic networks on random\n"
    "inputs) a fold cannot be told from rounding. A value identical to the\n"
    "original's passes too (its error is the original's own); an all-zero\n"
    "reference gets atol 1e-12; an infinite error never passes by the floor.\n"
    "Every graph output and the value right after each fold is checked; per BN,\n"
    "'alone' is the error that fold adds by itself (its layer run on the\n"
    "original's float32 values, every other BN unfolded). Inputs not given with\n"
    "-i are random: per channel N(mean, std) from --mean/--std, or estimated from\n"
    "the first BN's running statistics through the first Conv, else N(0,1); the\n"
    "report says which. Real data (-i) remains the best check.\n";

void add_verify_options(CLI::App* cmd, VerifyArgs& a) {
  cmd->add_option("-i,--input", a.inputs, "NAME=PATH of a verification input (.npy/.pb); others are random");
  in_range(cmd->add_option("-b,--batch", a.batch, "Batch size of random verification inputs")->capture_default_str(),
           1, 1e6);
  add_seed_option(cmd, a.seed, "Seed of the random inputs");
  cmd->add_option("--mean", a.mean, "Per-channel mean of random inputs, comma-separated (default: estimated)");
  cmd->add_option("--std", a.std, "Per-channel std of random inputs, comma-separated (default: estimated)");
  in_range(cmd->add_option("--rtol", a.rtol, "Relative tolerance")->capture_default_str(), 0, kNoLimit);
  in_range(cmd->add_option("--atol", a.atol, "Absolute tolerance (default: 1e-4 x the output's largest |value|)"), 0,
           kNoLimit);
  in_range(cmd->add_option("--noise-factor", a.noise_factor,
                           "Also pass within this factor of the original's own float32 error")
               ->capture_default_str(),
           0, kNoLimit);
  cmd->add_flag("--float32-reference", a.float32_reference,
                "Compare with the float32 original instead of a float64 evaluation (faster, no noise floor)");
  cmd->add_flag("--no-isolated", a.no_isolated, "Do not measure each fold alone");
}

VerifyOptions verify_options(const VerifyArgs& a, const Session& session) {
  VerifyOptions vo;
  vo.batch = a.batch;
  vo.seed = a.seed;
  vo.rtol = a.rtol;
  vo.atol = a.atol;
  vo.noise_factor = a.noise_factor;
  vo.float64_reference = !a.float32_reference;
  vo.isolated = !a.no_isolated;
  vo.threads = a.threads;
  if (!a.mean.empty())
    for (float v : parse_float_list(a.mean, "--mean")) vo.mean.push_back(v);
  if (!a.std.empty())
    for (float v : parse_float_list(a.std, "--std")) vo.std.push_back(v);
  if (!a.inputs.empty()) vo.inputs = load_or_random_inputs(session, a.inputs, a.batch, a.seed);
  return vo;
}

void print_verification(const VerifyResult& r, const VerifyArgs& a) {
  fmt::print("\nVerification against {}\n", r.reference);
  const std::string batch = r.inputs_given ? "" : fmt::format(" (batch {})", a.batch);
  fmt::print("  {}\n", wrap(fmt::format("inputs{}: {}", batch, r.inputs), 78, "    "));
  fmt::print("  {}\n", wrap(fmt::format("a value passes within rtol {:g} + atol {}, or within {:g}x the original's "
                                       "float32 noise",
                                       a.rtol, a.atol < 0 ? "(1e-4 x its largest |value|)" : fmt::format("{:g}", a.atol),
                                       r.noise_factor),
                           78, "    "));
  for (const auto& c : r.outputs) {
    const std::string noise = c.noise >= 0 ? fmt::format(", float32 noise {:.3g}", c.noise) : "";
    fmt::print("  {}\n", wrap(fmt::format("{}: fold error {:.3g}{}, values up to {:.3g}: {}", c.name, c.max_abs, noise,
                                         c.scale, c.verdict),
                             78, "    "));
  }
  size_t failed = 0;
  for (const auto& c : r.folds) failed += !c.ok;
  if (!r.folds.empty())
    fmt::print("  {} values after a fold checked: {}\n", r.folds.size(),
               failed ? fmt::format("{} FAIL", failed) : std::string("all ok"));
  for (const auto& c : r.folds) {
    if (c.ok) continue;
    fmt::print("    {}\n", wrap(fmt::format("{}: error {:.3g}{}{}: {}", c.name, c.max_abs,
                                           c.noise >= 0 ? fmt::format(", float32 noise {:.3g}", c.noise) : "",
                                           c.isolated >= 0 ? fmt::format(", alone {:.3g}", c.isolated) : "", c.verdict),
                               76, "      "));
  }
}

std::vector<NamedPath> with_input_files(std::vector<NamedPath> inputs, const VerifyArgs& a) {
  for (const auto& spec : a.inputs) {
    const size_t eq = spec.find('=');
    inputs.push_back({"-i", eq == std::string::npos ? spec : spec.substr(eq + 1)});
  }
  return inputs;
}

}  // namespace bnfold::cli
