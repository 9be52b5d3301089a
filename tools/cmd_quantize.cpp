// bnfold quantize MODEL -o OUT: an int8 QDQ model, folded first, with the
// activation ranges from calibration data or the BN statistics; then, on the
// data, how far the int8 model's outputs are from the float model's (and the
// accuracy of both with labels).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "bnfold/analysis/quantize.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "tools/arg_check.hpp"
#include "tools/commands.hpp"
#include "tools/data_cli.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

namespace {

struct QuantizeArgs : DataArgs {
  std::string out, input_range;
  bool equalize = false, bias_correction = false;
  int64_t check_samples = 1024;
};

int run_quantize(QuantizeArgs& a) {
  check_outputs(a, {{"-o", a.out}});
  BNFOLD_ARG_CHECK(a.data.empty() || a.input_range.empty(), ErrorCode::InvalidArgument,
                   "--input-range is for quantizing without data; with --data the input's range is measured");
  BNFOLD_ARG_CHECK(!a.data.empty() || a.labels.empty(), ErrorCode::InvalidArgument,
                   "--labels go with --data (they give the int8 model's accuracy on it)");
  std::shared_ptr<Graph> original(load_onnx(a.model));
  QuantizeOptions o;
  o.batch = a.batch;
  o.threads = a.threads;
  o.equalize = a.equalize;
  o.bias_correction = a.bias_correction;
  if (!a.input_range.empty()) {
    for (float v : parse_float_list(a.input_range, "--input-range")) o.input_range.push_back(v);
    BNFOLD_ARG_CHECK(o.input_range.size() == 2 && o.input_range[0] < o.input_range[1], ErrorCode::InvalidArgument,
                     "--input-range takes LO,HI with LO < HI, not '{}'", a.input_range);
  }
  std::optional<Dataset> data;
  if (!a.data.empty()) {
    data = load_data(a, *original);
    o.data = &*data;
    o.progress = progress_bar("calibration");
  }
  const QuantizeResult r = quantize_model(*original, o);
  save_onnx(*r.model, a.out);
  std::optional<QuantizeCheck> c;
  if (data) c = check_quantized(r, *data, a.check_samples, a.batch, a.threads);

  if (a.json) {
    nlohmann::json j = nlohmann::json::parse(quantize_json(r, c ? &*c : nullptr));
    j["model"] = a.model;
    j["output_model"] = a.out;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  size_t corrected = 0;
  for (const auto& l : r.layers) corrected += l.bias_correction > 0;
  fmt::print("{}: {} layer(s) quantized to int8 (QDQ), {} BN(s) folded first{}{}; activation ranges from {}\n",
             a.model, r.layers.size(), r.folded, r.equalized ? ", cross-layer equalized" : "",
             a.bias_correction ? fmt::format(", {} bias(es) corrected", corrected) : "", r.ranges_from);
  std::vector<std::string> names;
  for (const auto& l : r.layers) names.push_back(l.node);
  const size_t w = column_width(names, 2 + 7 + 24 + 12 + 20 + 20, 12);
  const auto shown = fit_names(names, w);
  fmt::print("  {:<{}} {:<6} {:>23} {:>11} {:>19} {}\n", "layer", w, "op", "input range", "uint8 step",
             "weight steps", "weights (readiness)");
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const auto& l = r.layers[i];
    fmt::print("  {:<{}} {:<6} {:>23} {:>11} {:>19} {}\n", shown[i], w, l.op,
               fmt::format("[{}, {}]", short_number(l.low), short_number(l.high)), short_number(l.scale),
               fmt::format("{}..{}", short_number(l.weight_scale_min), short_number(l.weight_scale_max)),
               to_string(l.verdict));
  }
  for (const auto& s : r.skipped) fmt::print("  kept in float: {}\n", s);
  fmt::print("  (weights: int8, one scale per output channel; activations: uint8 with a zero point; biases: "
             "int32)\n");
  if (c) {
    fmt::print("\nOn {} samples of the data, int8 against the folded float model: outputs {:.2f}% relative RMS "
               "apart, top-1 agreement {:.1f}%\n",
               c->samples, 100 * c->relative_rms, 100 * c->agreement);
    if (c->accuracy_float >= 0)
      fmt::print("  accuracy: float {:.2f}%, int8 {:.2f}% ({:+.2f} points)\n", 100 * c->accuracy_float, 100 * c->accuracy_int8,
                 100 * (c->accuracy_int8 - c->accuracy_float));
  }
  fmt::print("Wrote {}\n", a.out);
  return 0;
}

}  // namespace

void add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Write an int8 model (ONNX QDQ), folded first, with its ranges from "
                                                 "calibration data or the BN statistics");
  add_data_options(cmd, *a, false);
  cmd->remove_option(cmd->get_option("--html"));  // the report is the table or --json
  cmd->add_option("-o,--output", a->out, "The int8 QDQ model to write")->required();
  cmd->add_option("--input-range", a->input_range,
                  "Without --data: LO,HI of the model's input (the BN statistics give every other range)");
  cmd->add_flag("--equalize", a->equalize,
                "Cross-layer equalization after folding (as fold --equalize): evens out per-channel weight ranges "
                "through ReLUs");
  cmd->add_flag("--bias-correction", a->bias_correction,
                "Shift each layer's bias by the mean error its weights' rounding adds, from the BN statistics of its "
                "input (data-free; layers whose input a folded BN makes through ReLU/Clip, average pooling or "
                "reshapes)");
  in_range(cmd->add_option("--check-samples", a->check_samples,
                           "With --data: compare the int8 model with the float one on this many samples")
               ->capture_default_str(),
           1, 1e12);
  cmd->footer(
      "Every Conv, Gemm and MatMul with constant float32 weights gets QuantizeLinear ->\n"
      "DequantizeLinear on its input (uint8, one scale and zero point per tensor, from\n"
      "the tensor's min and max over --data, or without data from the folded BN's\n"
      "beta -+ 3|gamma| clipped by the ReLU after it) and int8 weights with one scale\n"
      "per output channel (symmetric), its bias as int32. The model is folded first,\n"
      "so the weights quantized are the ones that run; the table gives each layer's\n"
      "ranges and its weights' readiness (inspect --quantization). ONNX Runtime runs the\n"
      "result with its int8 kernels, and so does bnfold (run, bench, serve) on CPUs with\n"
      "VNNI or AMX; elsewhere bnfold computes it in float32 on the dequantized values.\n"
      "Needs opset 13 or later.\n\n"
      "Examples:\n"
      "  bnfold quantize model.onnx --data calibration/ -o model.int8.onnx\n"
      "  bnfold quantize model.onnx --input-range -2.2,2.7 -o model.int8.onnx   (no data)");
  on_run(cmd, [a] { return run_quantize(*a); });
}

}  // namespace bnfold::cli
