// bnfold inspect MODEL: what is in a model, and every BatchNormalization as a
// folding pass will see it.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "bnfold/analysis/quantize.hpp"
#include "bnfold/graph/folded_bns.hpp"
#include "bnfold/graph/inspect.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/analysis/workflows.hpp"
#include "tools/commands.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
  bool dump = false;
  bool no_shape_inference = false;
  bool quantization = false;
};

void print_readiness(const ModelReadiness& r) {
  fmt::print("\nInt8 readiness of the weights{}: SQNR over the worst tenth of channels, bar {:.0f} dB\n",
             r.bns_folded_first ? fmt::format(" (after folding {} BN(s) in memory)", r.bns_folded_first) : "",
             ReadinessOptions().min_sqnr_db);
  if (r.layers.empty()) {
    fmt::print("  (no Conv, ConvTranspose, Gemm or MatMul with constant weights)\n");
    return;
  }
  std::vector<std::string> names;
  for (const auto& l : r.layers) names.push_back(l.node);
  const size_t w = column_width(names, 2 + 14 + 6 + 10 + 10 + 14 + 20, 12);
  const std::vector<std::string> shown = fit_names(names, w);
  fmt::print("  {:<{}} {:<13} {:>5} {:>9} {:>9} {:>13} {}\n", "layer", w, "op", "C", "ranges", "to 0", "SQNR t / ch",
             "verdict");
  std::map<QuantVerdict, size_t> counts;
  std::vector<std::string> notes;
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const auto& l = r.layers[i];
    ++counts[l.verdict];
    fmt::print("  {:<{}} {:<13} {:>5} {:>8.3g}x {:>9} {:>5.1f} / {:<5.1f} {}\n", shown[i], w,
               l.depthwise ? "Conv (dw)" : l.op, l.channels, l.range_ratio, l.collapsed, l.sqnr_tensor_db,
               l.sqnr_channel_db, to_string(l.verdict));
    if (l.verdict != QuantVerdict::PerTensorSafe || !l.inflated.empty()) notes.push_back(l.node + ": " + l.why);
  }
  fmt::print("  ({} per-tensor safe, {} need per-channel, {} need equalization, {} keep in fp32.\n"
             "   ranges: largest over smallest per-channel max|w|; to 0: channels per-tensor int8 rounds to zero.)\n",
             counts[QuantVerdict::PerTensorSafe], counts[QuantVerdict::NeedsPerChannel],
             counts[QuantVerdict::NeedsEqualization], counts[QuantVerdict::KeepFp32]);
  const size_t most = 20;
  for (size_t i = 0; i < notes.size() && i < most; ++i) fmt::print("  {}\n", notes[i]);
  if (notes.size() > most) fmt::print("  ... {} more (--json lists every layer)\n", notes.size() - most);
}

void print_tensors(const char* title, const std::vector<TensorInfo>& list) {
  fmt::print("{}\n", title);
  if (list.empty()) fmt::print("  (none)\n");
  for (const auto& t : list)
    fmt::print("  {:<28} {}{}\n", fit(t.name, 28), dtype_name(t.dtype), t.shape.str());
}

void print_ops(const std::map<std::string, int64_t>& counts) {
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string line = " ";
  for (const auto& [op, n] : sorted) {
    std::string item = fmt::format(" {} {}", op, n);
    if (line.size() + item.size() > 78) {
      fmt::print("{}\n", line);
      line = " ";
    }
    line += item;
  }
  if (line.size() > 1) fmt::print("{}\n", line);
}

// PyTorch names BN nodes "/layer1/layer1.0/bn1/BatchNormalization": the op
// suffix says nothing in a BN table, and the tail is the distinctive part.
std::string display_name(const BatchNormInfo& b) {
  if (b.name.empty()) return fmt::format("#{}", b.node_id);
  std::string n = b.name;
  const std::string suffix = "/BatchNormalization";
  if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
    n.resize(n.size() - suffix.size());
  return n;
}

void print_batchnorms(const std::vector<BatchNormInfo>& bns) {
  fmt::print("\nBatchNormalization nodes: {}\n", bns.size());
  if (bns.empty()) return;
  // 2+22+1+14+1+4+1+5+1+9+1+9+1+5 = 76 columns
  std::vector<std::string> names;
  for (const auto& b : bns) names.push_back(display_name(b));
  const size_t w = column_width(names, 2 + 15 + 5 + 6 + 10 + 10 + 6, 10);
  const std::vector<std::string> shown = fit_names(names, w);
  fmt::print("  {:<{}} {:<14} {:>4} {:>5} {:>9} {:>9} {}\n", "name", w, "producer", "uses", "C", "var min", "var max",
             "mode");
  size_t row = 0;
  std::vector<std::string> notes;
  for (const auto& b : bns) {
    const std::string name = display_name(b);
    const std::string c = b.channels >= 0 ? std::to_string(b.channels) : "?";
    const std::string vmin = b.params_constant ? short_number(b.var_min) : "-";
    const std::string vmax = b.params_constant ? short_number(b.var_max) : "-";
    fmt::print("  {:<{}} {:<14} {:>4} {:>5} {:>9} {:>9} {}\n", shown[row++], w,
               fit(b.producer_op, 14), b.producer_consumers, c, vmin, vmax,
               b.training ? "TRAIN" : "infer");
    if (b.training) notes.push_back(fmt::format("{}: {}", name, b.mode));
    if (!b.params_constant) notes.push_back(name + ": parameters are not all constant");
    if (!b.spatial) notes.push_back(name + ": spatial=0 (per-activation statistics)");
    if (b.producer_output_is_graph_output)
      notes.push_back(name + ": its input is also a graph output");
    if (!b.var_eps_nonpositive.empty())
      notes.push_back(fmt::format("{}: running var + eps <= 0 at channel(s) {}", name,
                                  fmt::join(b.var_eps_nonpositive, ", ")));
    if (!b.nonfinite.empty())
      notes.push_back(fmt::format("{}: NaN or Inf parameters at channel(s) {}", name,
                                  fmt::join(b.nonfinite, ", ")));
  }
  fmt::print("  (uses: how many node inputs read the producer's output; 1 means BN is its\n"
             "   only consumer. var: running variance. infer/TRAIN: inference or training\n"
             "   mode.)\n");
  if (!notes.empty()) {
    fmt::print("\nNotes:\n");
    for (const auto& n : notes) fmt::print("  {}\n", n);
  }
  const auto training = std::count_if(bns.begin(), bns.end(), [](const BatchNormInfo& b) { return b.training; });
  if (training > 0)
    fmt::print("\nThis model computes with batch statistics: {} of its {} BatchNormalization nodes are in\n"
               "training mode (exported with TrainingMode.TRAINING). Each normalizes a batch by the batch's own\n"
               "mean and variance, so a sample's output depends on the rest of its batch, and at batch size 1\n"
               "on itself alone (bnfold audit measures what that costs). bnfold fold --eval-mode switches them\n"
               "to the running statistics the model carries (PyTorch's model.eval()) and folds them.\n",
               training, bns.size());
}

void print_text(const std::string& path, const ModelSummary& s) {
  fmt::print("{}\n", path);
  std::string opsets;
  for (const auto& [d, v] : s.info.opsets)
    opsets += fmt::format("{}{} {}", opsets.empty() ? "" : ", ", d.empty() ? "ai.onnx" : d, v);
  fmt::print("  IR {}, opset {}, producer {} {}\n", s.info.ir_version, opsets,
             s.info.producer_name.empty() ? "?" : s.info.producer_name, s.info.producer_version);
  fmt::print("  {} nodes, {} initializers: {} parameters ({})\n\n", s.num_nodes, s.num_initializers,
             human_count(s.parameters), human_bytes(s.parameter_bytes));
  print_tensors("Inputs", s.inputs);
  print_tensors("Outputs", s.outputs);
  fmt::print("\nOps\n");
  print_ops(s.op_counts);
  print_batchnorms(s.batchnorms);
  if (!s.info.warnings.empty()) {
    fmt::print("\nImport warnings:\n");
    for (const auto& w : s.info.warnings) fmt::print("  {}\n", w);
  }
}

}  // namespace

void add_inspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "Show a model's inputs, outputs, opsets, ops and parameters, and every "
      "BatchNormalization node as a folding pass sees it.");
  cmd->add_option("MODEL", args->model, "ONNX model file (.onnx)")->required();
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text (for scripts)");
  cmd->add_flag("--dump", args->dump, "Also print the whole graph, node by node");
  cmd->add_flag("--no-shape-inference", args->no_shape_inference,
                "Skip ONNX shape inference (shapes then come only from the file)");
  cmd->add_flag("--quantization", args->quantization,
                "Also judge each layer's weights for int8, as they are after folding (the model is folded in "
                "memory first when it has BNs that fold): spread of per-channel ranges, channels per-tensor int8 "
                "rounds to zero, SQNR per tensor and per channel, BN channels whose tiny variance inflates the "
                "folded weights, and a verdict per layer");
  cmd->footer(
      "The BatchNormalization table lists, per BN node: the op producing its input\n"
      "(a BN can be folded into a Conv, ConvTranspose, Gemm or MatMul producer),\n"
      "how many consumers that producer's output has (folding needs exactly 1),\n"
      "its channel count, the range of its running variance, and whether it runs\n"
      "in inference or training mode. Notes flag what blocks a fold: var + eps <= 0,\n"
      "NaN/Inf parameters, non-constant parameters, training mode.\n\n"
      "Examples:\n"
      "  bnfold inspect models/tiny_resnet.onnx\n"
      "  bnfold inspect --json model.onnx | python3 -m json.tool\n"
      "  bnfold inspect --quantization folded.onnx");
  cmd->callback([args] {
    ImportOptions options;
    options.infer_shapes = !args->no_shape_inference;
    const auto graph = load_onnx(args->model, options);
    const ModelSummary summary = summarize(*graph);
    if (args->json) {
      nlohmann::json j = nlohmann::json::parse(inspect_json(*graph, args->model));
      if (args->dump) j["graph"] = graph->dump();
      if (args->quantization) {
        const ModelReadiness r = model_readiness(*graph);
        j["quantization"] = nlohmann::json::parse(readiness_json(r.layers, r.bns_folded_first));
      }
      std::cout << j.dump(2) << "\n";
      return;
    }
    print_text(args->model, summary);
    if (args->quantization) print_readiness(model_readiness(*graph));
    if (args->dump) fmt::print("\n{}", graph->dump());
  });
}

}  // namespace bnfold::cli
