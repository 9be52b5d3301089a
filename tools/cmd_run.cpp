// bnfold run MODEL: one inference, outputs saved as .npy and summarized;
// --expect compares with reference outputs.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bnfold/analysis/float64.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"

#include <filesystem>

#include "tools/arg_check.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "bnfold/graph/tensor_io.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
#include "tools/commands.hpp"
#include "tools/inputs.hpp"

namespace bnfold::cli {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs, expects;
  int64_t batch = 1;
  std::string output_dir;  // empty: outputs are printed, not written
  bool no_save = false;
  double rtol = 1e-3, atol = 1e-4;
  int threads = 0;
  bool reference = false, float64 = false, no_winograd = false;
  uint64_t seed = 0;
  std::string bn_mode = "inference";
  std::string precision = "fp32";
};

std::string file_name_for(const std::string& output) {
  std::string s = output;
  for (char& c : s)
    if (c == '/' || c == '\\' || c == ':' || c == ' ') c = '_';
  return s + ".npy";
}

void print_output(const std::string& name, const Tensor& t) {
  const TensorStats s = tensor_stats(t);
  fmt::print("{}: {}\n", name, t.describe());
  fmt::print("  min {:.5g}  max {:.5g}  mean {:.5g}  std {:.5g}", s.min, s.max, s.mean, s.std);
  if (s.nan || s.inf) fmt::print("  NaN {}  Inf {}", s.nan, s.inf);
  fmt::print("\n");
  // Class scores: a 2-D float tensor [batch, classes].
  if (t.rank() != 2 || !dtype_is_float(t.dtype()) || t.dims()[1] < 2) return;
  const auto top = top_k(t, 0, 5);
  std::string line;
  for (const auto& [i, v] : top) line += fmt::format("  {} ({:.4g})", i, v);
  fmt::print("  top-5 of sample 0:{}\n", line);
  if (t.dims()[0] > 1) {
    std::string arg;
    const int64_t shown = std::min<int64_t>(t.dims()[0], 16);
    for (int64_t r = 0; r < shown; ++r) arg += fmt::format(" {}", top_k(t, r, 1)[0].first);
    fmt::print("  argmax per sample:{}{}\n", arg, shown < t.dims()[0] ? " ..." : "");
  }
}

int run(const RunArgs& a) {
  SessionOptions opts;
  opts.threads = a.threads;
  opts.use_onednn = !a.reference && !a.float64;
  opts.winograd = !a.no_winograd;
  opts.bn_mode = parse_bn_mode(a.bn_mode);
  opts.precision = parse_precision(a.precision);
  if ((a.float64 || a.reference) && opts.precision != Precision::Float32)
    throw Error(ErrorCode::InvalidArgument, fmt::format("--precision {} runs on oneDNN's kernels: not with {}",
                                                        a.precision, a.float64 ? "--float64" : "--reference"));
  std::shared_ptr<Graph> graph(load_onnx(a.model));
  Session session(graph, opts);
  auto inputs = load_or_random_inputs(session, a.inputs, a.batch, a.seed);
  for (const auto& [name, t] : inputs) fmt::print("input {}: {}\n", name, t.describe());
  std::map<std::string, Tensor> outputs;
  if (a.float64) {  // the same model and inputs, widened, on the reference kernels
    fmt::print("evaluated in float64 (reference kernels)\n");
    outputs = Session(as_float64(*graph), opts).run(as_float64(inputs));
  } else {
    outputs = session.run(inputs);
  }
  const bool save = !a.output_dir.empty() && !a.no_save;
  if (save) {
    std::error_code ec;
    std::filesystem::create_directories(a.output_dir, ec);
    BNFOLD_ARG_CHECK(!ec && std::filesystem::is_directory(a.output_dir, ec), ErrorCode::Io,
                 "-o {}: cannot create the output folder{}", a.output_dir,
                 ec ? ": " + ec.message() : std::string(": a file of that name exists"));
  }
  for (const auto& spec : session.outputs()) {
    const Tensor& t = outputs.at(spec.name);
    print_output(spec.name, t);
    if (save) {
      const std::string path = (std::filesystem::path(a.output_dir) / file_name_for(spec.name)).string();
      save_npy(t, path);
      fmt::print("  saved {}\n", path);
    }
  }
  bool ok = true;
  for (const auto& [name, path] : parse_named_files(a.expects, session, "--expect")) {
    auto it = outputs.find(name);
    if (it == outputs.end()) {
      std::string names;
      for (const auto& [k, v] : outputs) names += (names.empty() ? "'" : ", '") + k + "'";
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("--expect {}: the model has no output '{}'; its outputs are {}", name, name, names));
    }
    const Tensor want = load_tensor_file(path);
    const TensorDiff d = compare_tensors(it->second, want, a.rtol, a.atol);
    if (d.shape_mismatch) {
      fmt::print("expect {}: FAIL: shape {} vs expected {}\n", name, it->second.describe(), want.describe());
      ok = false;
      continue;
    }
    const bool pass = d.mismatches == 0;
    fmt::print("expect {}: {}: max abs error {:.3g}, max rel error {:.3g}, {} of {} elements beyond "
               "atol {:g} + rtol {:g}\n",
               name, pass ? "ok" : "FAIL", d.max_abs, d.max_rel, d.mismatches, want.numel(), a.atol, a.rtol);
    ok &= pass;
  }
  return ok ? 0 : 1;
}

}  // namespace

void add_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model once: inputs from files or random, outputs saved as .npy.");
  cmd->add_option("MODEL", a->model, "ONNX model file")->required();
  cmd->add_option("-i,--input", a->inputs, "NAME=PATH of an input (.npy or ONNX TensorProto .pb); repeatable");
  in_range(cmd->add_option("-b,--batch", a->batch, "Batch size of random inputs (the first free dim)")
               ->capture_default_str(),
           1, 1e6);
  cmd->add_option("-o,--output-dir", a->output_dir, "Write each output as NAME.npy into this folder (default: none)");
  cmd->add_flag("--no-save", a->no_save, "Write no outputs (the default; kept for scripts that pass it)");
  cmd->add_option("-e,--expect", a->expects, "NAME=PATH of a reference output to compare with; repeatable");
  in_range(cmd->add_option("--rtol", a->rtol, "Relative tolerance of --expect")->capture_default_str(), 0, kNoLimit);
  in_range(cmd->add_option("--atol", a->atol, "Absolute tolerance of --expect")->capture_default_str(), 0, kNoLimit);
  add_threads_option(cmd, a->threads);
  add_seed_option(cmd, a->seed, "Seed of the random inputs");
  cmd->add_flag("--reference", a->reference, "Use the plain reference kernels instead of oneDNN (slow; an oracle)");
  cmd->add_flag("--no-winograd", a->no_winograd,
                "Direct convolution everywhere (by default dense 3x3 stride-1 convolutions use oneDNN's "
                "Winograd kernels where the CPU has them: AVX-512)");
  add_precision_option(cmd, a->precision);
  cmd->add_flag("--float64", a->float64,
                "Evaluate the model in float64 on the reference kernels (every float value and constant widened; "
                "outputs are float64)");
  cmd->add_option("--bn-mode", a->bn_mode,
                  "inference: BatchNormalization uses the model's running statistics; batch: the statistics "
                  "of the current batch, as a model left in train mode")
      ->capture_default_str();
  cmd->footer(
      "Inputs not given with --input are random: float N(0,1), with the model's free\n"
      "(batch) dim set by --batch. Each output is printed with its shape and\n"
      "statistics, and a top-5 when it looks like class scores [batch, classes].\n"
      "With --expect the command exits 1 when an output differs from the reference\n"
      "beyond atol + rtol * |expected| anywhere.\n\n"
      "Examples:\n"
      "  bnfold run models/tiny_resnet.onnx --batch 8\n"
      "  bnfold run model.onnx -i input=x.npy -e output=y.npy --rtol 1e-4");
  on_run(cmd, [a] { return run(*a); });
}

}  // namespace bnfold::cli
