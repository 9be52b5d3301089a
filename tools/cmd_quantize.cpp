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
#include "bnfold/passes/fold.hpp"
#include "bnfold/passes/pipeline.hpp"
#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
#include "tools/arg_check.hpp"
#include "tools/commands.hpp"
#include "tools/data_cli.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

namespace {

struct QuantizeArgs : DataArgs {
  std::string out, input_range;
  bool equalize = false;
  int64_t check_samples = 1024;
};

// The float (folded) model against the int8 one on the data: output error, agreement, accuracy.
struct Check {
  int64_t samples = 0;
  double rel_rms = 0, agreement = 0, acc_float = -1, acc_int8 = -1;
};

Check check_on_data(const Graph& folded, const Graph& qdq, const Dataset& d, const QuantizeArgs& a) {
  SessionOptions so;
  so.threads = a.threads;
  Session f(clone_graph(folded), so), q(clone_graph(qdq), so);
  const std::string in = f.inputs()[0].name, out = f.outputs()[0].name;
  Check c;
  double err = 0, ref = 0;
  int64_t agree = 0, right_f = 0, right_q = 0;
  const int64_t n = std::min(d.size(), a.check_samples);
  for (int64_t start = 0; start < n; start += a.batch) {
    const int64_t count = std::min(a.batch, n - start);
    const Tensor x = d.batch(start, count);
    const Tensor yf = f.run({{in, x}}).at(out), yq = q.run({{in, x}}).at(out);
    for (int64_t i = 0; i < yf.numel(); ++i) {
      err += std::pow(yq.value_at(i) - yf.value_at(i), 2);
      ref += std::pow(yf.value_at(i), 2);
    }
    if (yf.rank() == 2 && yf.dims()[1] > 1)
      for (int64_t r = 0; r < count; ++r) {
        const int64_t pf = top_k(yf, r, 1)[0].first, pq = top_k(yq, r, 1)[0].first;
        agree += pf == pq;
        if (d.has_labels()) {
          const int64_t label = d.labels()[static_cast<size_t>(start + r)];
          right_f += pf == label;
          right_q += pq == label;
        }
      }
  }
  c.samples = n;
  c.rel_rms = ref > 0 ? std::sqrt(err / ref) : 0;
  c.agreement = n > 0 ? static_cast<double>(agree) / static_cast<double>(n) : 0;
  if (d.has_labels() && n > 0) {
    c.acc_float = static_cast<double>(right_f) / static_cast<double>(n);
    c.acc_int8 = static_cast<double>(right_q) / static_cast<double>(n);
  }
  return c;
}

int run_quantize(QuantizeArgs& a) {
  check_outputs(a, {{"-o", a.out}});
  std::shared_ptr<Graph> original(load_onnx(a.model));
  QuantizeOptions o;
  o.batch = a.batch;
  o.threads = a.threads;
  o.equalize = a.equalize;
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
  std::optional<Check> c;
  if (data) {
    std::shared_ptr<Graph> folded = clone_graph(*original);
    fold_batchnorms(*folded);
    if (a.equalize) make_pass("equalize")->run(*folded);
    c = check_on_data(*folded, *r.model, *data, a);
  }

  if (a.json) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : r.layers)
      layers.push_back({{"node", l.node}, {"op", l.op}, {"input", l.input}, {"range", {l.low, l.high}},
                        {"scale", l.scale}, {"zero_point", l.zero_point},
                        {"weight_scales", {l.weight_scale_min, l.weight_scale_max}}, {"bias_int32", l.bias},
                        {"weights_verdict", to_string(l.verdict)}});
    nlohmann::json j = {{"model", a.model}, {"output_model", a.out}, {"bns_folded", r.folded},
                        {"equalized", r.equalized}, {"ranges_from", r.ranges_from}, {"layers", layers},
                        {"skipped", r.skipped}};
    if (c) {
      j["check"] = {{"samples", c->samples}, {"output_relative_rms", c->rel_rms}, {"top1_agreement", c->agreement}};
      if (c->acc_float >= 0) j["check"]["accuracy"] = {{"float", c->acc_float}, {"int8", c->acc_int8}};
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  fmt::print("{}: {} layer(s) quantized to int8 (QDQ), {} BN(s) folded first{}; activation ranges from {}\n",
             a.model, r.layers.size(), r.folded, r.equalized ? ", cross-layer equalized" : "", r.ranges_from);
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
               c->samples, 100 * c->rel_rms, 100 * c->agreement);
    if (c->acc_float >= 0)
      fmt::print("  accuracy: float {:.2f}%, int8 {:.2f}% ({:+.2f} points)\n", 100 * c->acc_float, 100 * c->acc_int8,
                 100 * (c->acc_int8 - c->acc_float));
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
  cmd->add_option("-o,--output", a->out, "The int8 QDQ model to write")->required();
  cmd->add_option("--input-range", a->input_range,
                  "Without --data: LO,HI of the model's input (the BN statistics give every other range)");
  cmd->add_flag("--equalize", a->equalize,
                "Cross-layer equalization after folding (as fold --equalize): evens out per-channel weight ranges "
                "through ReLUs");
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
      "result with its int8 kernels; bnfold runs it as written (int8 simulated in float).\n"
      "Needs opset 13 or later.\n\n"
      "Examples:\n"
      "  bnfold quantize model.onnx --data calibration/ -o model.int8.onnx\n"
      "  bnfold quantize model.onnx --input-range -2.2,2.7 -o model.int8.onnx   (no data)");
  on_run(cmd, [a] { return run_quantize(*a); });
}

}  // namespace bnfold::cli
