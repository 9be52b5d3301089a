#include "bnfold/analysis/quantize.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "bnfold/graph/folded_bns.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/passes/pipeline.hpp"
#include "bnfold/runtime/session.hpp"
#include "graph/check.hpp"

namespace bnfold {

namespace {

struct Layer {
  Node* node;
  int64_t axis;  // of the weights' output channels
};

// Why n is not quantized ("" when it is): a Conv, Gemm or MatMul on a float32
// activation with constant float32 weights whose output channels are one axis.
std::string why_not(const Node& n, int64_t* axis) {
  if (n.inputs().size() < 2 || !n.input(0) || !n.input(1)) return "missing inputs";
  const Value* x = n.input(0);
  const Value* w = n.input(1);
  if (x->has_data() || x->dtype() != DType::Float32) return "its data input is not a float32 activation";
  if (!w->is_constant() || w->data().dtype() != DType::Float32) return "its weights are not float32 constants";
  const size_t rank = w->data().rank();
  if (n.op_type() == "Conv") {
    if (rank < 3) return "weights of rank below 3";
    *axis = 0;
  } else if (n.op_type() == "Gemm") {
    if (n.attr_int("transA") != 0) return "transA";
    *axis = n.attr_int("transB") != 0 ? 0 : 1;
  } else {  // MatMul
    if (rank != 2) return "weights of rank other than 2";
    *axis = 1;
  }
  return "";
}

Tensor scalar_f32(double v) {
  Tensor t(DType::Float32, {});
  t.mutable_data_as<float>()[0] = static_cast<float>(v);
  return t;
}

// The BN folded into the layer that makes x, and what lies between: clips
// (ReLU, Clip), ops that keep values within their range (pooling,
// reshaping), and whether any of them changes the mean (a max pool).
struct BnChain {
  const FoldedBn* bn = nullptr;
  double clip_lo = -INFINITY, clip_hi = INFINITY;
  bool mean_kept = true;
};

BnChain bn_chain(const Graph& g, const Value* x, const std::map<std::string, const FoldedBn*>& records) {
  BnChain c;
  const Value* v = x;
  static const char* const kWithin[] = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten",
                                        "Reshape", "Identity", "Squeeze", "Unsqueeze"};
  for (const Node* p = v->producer(); p && !p->inputs().empty() && p->input(0); p = v->producer()) {
    const std::string& op = p->op_type();
    if (op == "Relu" || op == "Clip") {
      double lo = 0, hi = INFINITY;
      if (op == "Clip") {
        const auto bound = [&](size_t i, double fallback) {
          const Value* b = p->inputs().size() > i ? p->input(i) : nullptr;
          return b && b->has_data() ? b->data().value_at(0) : fallback;
        };
        const bool old = g.opset() < 11;
        lo = old ? p->attr_float("min") : bound(1, -INFINITY);
        hi = old ? p->attr_float("max") : bound(2, INFINITY);
      }
      c.clip_lo = std::max(c.clip_lo, lo);
      c.clip_hi = std::min(c.clip_hi, hi);
    } else if (std::find(std::begin(kWithin), std::end(kWithin), op) == std::end(kWithin)) {
      break;
    } else if (op == "MaxPool" || op == "GlobalMaxPool") {
      c.mean_kept = false;
    }
    v = p->input(0);
  }
  auto it = records.find(v->name());
  if (it != records.end()) c.bn = it->second;
  return c;
}

// The range a tensor takes as the BN folded into its producer says (and the
// ReLU/Clip between); false when nothing does.
bool range_from_bns(const Graph& g, const Value* x, const std::map<std::string, const FoldedBn*>& records,
                    double* lo, double* hi) {
  const BnChain c = bn_chain(g, x, records);
  if (!c.bn) return false;
  const FoldedBn& f = *c.bn;
  *lo = INFINITY, *hi = -INFINITY;
  for (int64_t k = 0; k < f.channels(); ++k) {
    const auto i = static_cast<size_t>(k);
    *lo = std::min(*lo, f.beta[i] - 3.0 * std::fabs(f.gamma[i]));
    *hi = std::max(*hi, f.beta[i] + 3.0 * std::fabs(f.gamma[i]));
  }
  *lo = std::clamp(*lo, c.clip_lo, c.clip_hi);
  *hi = std::clamp(*hi, c.clip_lo, c.clip_hi);
  return *lo <= *hi;
}

// E[clip(y, lo, hi)] for y ~ N(mu, sigma^2): lo + R(lo) - R(hi), R(a) = E[max(y - a, 0)].
double clipped_mean(double mu, double sigma, double lo, double hi) {
  const auto relu_mean = [&](double a) {
    if (std::isinf(a)) return a < 0 ? INFINITY : 0.0;
    if (sigma <= 0) return std::max(mu - a, 0.0);
    const double z = (mu - a) / sigma;
    return (mu - a) * 0.5 * std::erfc(-z / std::sqrt(2.0)) + sigma * std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
  };
  if (std::isinf(lo)) return mu - relu_mean(hi);
  return lo + relu_mean(lo) - relu_mean(hi);
}

// Each channel's expected value of x as the BN before it says (its output
// N(beta, gamma^2) per channel, clipped, carried through average pooling and
// reshapes); empty when a max pool (which raises the mean) or no BN is between.
std::vector<double> expected_channels(const Graph& g, const Value* x,
                                      const std::map<std::string, const FoldedBn*>& records) {
  const BnChain c = bn_chain(g, x, records);
  if (!c.bn || !c.mean_kept) return {};
  std::vector<double> e;
  for (int64_t k = 0; k < c.bn->channels(); ++k) {
    const auto i = static_cast<size_t>(k);
    e.push_back(clipped_mean(c.bn->beta[i], std::fabs(c.bn->gamma[i]), c.clip_lo, c.clip_hi));
  }
  return e;
}

// Min and max of each named value over the data (graph inputs read from the batch).
std::map<std::string, std::pair<double, double>> measure_ranges(const Graph& g, const std::vector<std::string>& names,
                                                                const QuantizeOptions& o) {
  std::shared_ptr<Graph> probe = clone_graph(g);
  for (const auto& n : names) {
    Value* v = probe->find_value(n);
    if (!v->is_graph_input() && !v->is_graph_output()) probe->add_output(v);
  }
  SessionOptions so;
  so.threads = o.threads;
  Session session(probe, so);
  BNFOLD_CHECK(session.inputs().size() == 1, ErrorCode::InvalidArgument,
               "calibration feeds one input; the model has {}", session.inputs().size());
  const std::string input = session.inputs()[0].name;
  std::map<std::string, std::pair<double, double>> r;
  for (const auto& n : names) r[n] = {INFINITY, -INFINITY};
  int64_t done = 0;
  o.data->for_each_batch(o.batch, [&](int64_t, Tensor samples) {
    const int64_t count = samples.dims()[0];
    std::map<std::string, Tensor> feed;
    feed.emplace(input, std::move(samples));
    const auto out = session.run(feed);
    for (auto& [name, range] : r) {
      const Tensor& t = name == input ? feed.at(input) : out.at(name);
      for (int64_t i = 0; i < t.numel(); ++i) {
        const double v = t.value_at(i);
        range.first = std::min(range.first, v);
        range.second = std::max(range.second, v);
      }
    }
    done += count;
    if (o.progress) o.progress(done, o.data->size());
  });
  return r;
}

struct ActivationQdq {
  Value* dequantized = nullptr;
  double scale = 1;
  int zero_point = 0;
};

// x -> QuantizeLinear -> DequantizeLinear, uint8 over the range (widened to hold 0).
ActivationQdq insert_qdq(Graph& g, const std::string& name, std::pair<double, double> range) {
  ActivationQdq a;
  const double lo = std::min(0.0, range.first), hi = std::max(0.0, range.second);
  a.scale = hi > lo ? (hi - lo) / 255 : 1.0;
  a.zero_point = static_cast<int>(std::clamp(std::nearbyint(-lo / a.scale), 0.0, 255.0));
  Value* s = g.add_constant(g.unique_name(name + "_scale"), scalar_f32(a.scale));
  Tensor z(DType::UInt8, {});
  z.mutable_data_as<uint8_t>()[0] = static_cast<uint8_t>(a.zero_point);
  Value* zv = g.add_constant(g.unique_name(name + "_zero_point"), std::move(z));
  Node* q = g.add_node("QuantizeLinear", {g.find_value(name), s, zv}, {g.unique_name(name + "_quantized")},
                       g.unique_name(name + "_QuantizeLinear"));
  Node* dq = g.add_node("DequantizeLinear", {q->output(0), s, zv}, {g.unique_name(name + "_dequantized")},
                        g.unique_name(name + "_DequantizeLinear"));
  a.dequantized = dq->output(0);
  return a;
}

// A DequantizeLinear of `q` (scales and zero points per slice along axis) named after `base`.
Value* dequantize(Graph& g, const std::string& base, Tensor q, Tensor scale, Tensor zero, int64_t axis) {
  Node* dq = g.add_node("DequantizeLinear",
                        {g.add_constant(g.unique_name(base + "_quantized"), std::move(q)),
                         g.add_constant(g.unique_name(base + "_scale"), std::move(scale)),
                         g.add_constant(g.unique_name(base + "_zero_point"), std::move(zero))},
                        {g.unique_name(base + "_dequantized")}, g.unique_name(base + "_DequantizeLinear"));
  dq->set_attr("axis", Attribute::of_int(axis));
  return dq->output(0);
}

// Bias correction (Nagel et al. 2019): rounding the weights moves each
// output's mean by sum_i (W_q - W)_i E[x_i]; the bias takes it back. E[x] per
// input channel comes from the BN before the layer (`expected`); Flatten of
// [N, C, H, W] makes feature k channel k / (H W). False where the mapping is
// unknown (a MatMul has no bias to take it).
bool correct_bias(Graph& g, const Layer& l, const Tensor& wq, const float* scale, const std::vector<double>& expected,
                  QuantizedLayer* q) {
  Node& n = *l.node;
  if (expected.empty() || n.op_type() == "MatMul") return false;
  const Tensor& w = n.input(1)->data();
  const auto& d = w.dims();
  const int64_t numel = w.numel(), channels = d[static_cast<size_t>(l.axis)];
  const auto C = static_cast<int64_t>(expected.size());
  std::vector<double> shift(static_cast<size_t>(channels), 0);
  for (int64_t i = 0; i < numel; ++i) {
    int64_t c = 0, in = 0;
    if (n.op_type() == "Conv") {
      const int64_t per = numel / d[0], cg = d[1], groups = n.attr_int("group");
      c = i / per;
      in = (c / (d[0] / groups)) * cg + (i / (per / cg)) % cg;
    } else {  // Gemm: [N, K] with transB (axis 0), else [K, N]
      const int64_t K = l.axis == 0 ? d[1] : d[0];
      c = l.axis == 0 ? i / K : i % d[1];
      const int64_t k = l.axis == 0 ? i % K : i / d[1];
      if (K % C != 0) return false;
      in = k / (K / C);
    }
    if (in >= C) return false;
    const double rounded = wq.data_as<int8_t>()[i] * static_cast<double>(scale[c]);
    shift[static_cast<size_t>(c)] += (rounded - w.value_at(i)) * expected[static_cast<size_t>(in)];
  }
  Value* b = n.inputs().size() > 2 ? n.input(2) : nullptr;
  if (b && (!b->is_constant() || b->data().dtype() != DType::Float32 || b->data().numel() != channels)) return false;
  Tensor corrected(DType::Float32, {channels});
  double energy = 0;
  for (int64_t c = 0; c < channels; ++c) {
    const double s = shift[static_cast<size_t>(c)];
    corrected.mutable_data_as<float>()[c] = static_cast<float>((b ? b->data().value_at(c) : 0.0) - s);
    energy += s * s;
  }
  q->bias_correction = std::sqrt(energy / static_cast<double>(channels));
  Value* nb = g.add_constant(g.unique_name(n.input(1)->name() + "_corrected_bias"), std::move(corrected));
  if (b) g.set_input(&n, 2, nb);
  else g.append_input(&n, nb);
  return true;
}

// The layer's weights as int8 with one scale per output channel (symmetric),
// its bias corrected for their rounding (when `expected` is given), and the
// bias as int32 at (activation scale x weight scale) per channel.
void quantize_layer(Graph& g, const Layer& l, const std::vector<double>& expected, QuantizedLayer* q) {
  Node& n = *l.node;
  const Tensor& w = n.input(1)->data();
  const auto& d = w.dims();
  const int64_t channels = d[static_cast<size_t>(l.axis)];
  int64_t inner = 1;
  for (size_t k = static_cast<size_t>(l.axis) + 1; k < d.size(); ++k) inner *= d[k];
  std::vector<double> peak(static_cast<size_t>(channels), 0);
  for (int64_t i = 0; i < w.numel(); ++i) {
    auto& p = peak[static_cast<size_t>((i / inner) % channels)];
    p = std::max(p, std::fabs(w.value_at(i)));
  }
  Tensor wq(DType::Int8, d), ws(DType::Float32, {channels}), wz(DType::Int8, {channels});
  float* scale = ws.mutable_data_as<float>();
  for (int64_t c = 0; c < channels; ++c) {
    const double p = peak[static_cast<size_t>(c)];
    scale[c] = static_cast<float>(p > 0 ? p / 127 : 1.0);
    wz.mutable_data_as<int8_t>()[c] = 0;
  }
  for (int64_t i = 0; i < w.numel(); ++i)
    wq.mutable_data_as<int8_t>()[i] =
        static_cast<int8_t>(std::clamp(std::nearbyint(w.value_at(i) / scale[(i / inner) % channels]), -127.0, 127.0));
  const auto [lo, hi] = std::minmax_element(scale, scale + channels);
  q->weight_scale_min = *lo;
  q->weight_scale_max = *hi;
  correct_bias(g, l, wq, scale, expected, q);
  Value* b = n.inputs().size() > 2 ? n.input(2) : nullptr;
  if (b && b->is_constant() && b->data().dtype() == DType::Float32 && b->data().rank() == 1 &&
      b->data().numel() == channels) {
    Tensor bq(DType::Int32, {channels}), bs(DType::Float32, {channels}), bz(DType::Int32, {channels});
    for (int64_t c = 0; c < channels; ++c) {
      const double s = q->scale * scale[c];
      bs.mutable_data_as<float>()[c] = static_cast<float>(s);
      bz.mutable_data_as<int32_t>()[c] = 0;
      bq.mutable_data_as<int32_t>()[c] =
          static_cast<int32_t>(std::clamp(std::nearbyint(b->data().value_at(c) / s), -2147483647.0, 2147483647.0));
    }
    g.set_input(&n, 2, dequantize(g, b->name(), std::move(bq), std::move(bs), std::move(bz), 0));
    q->bias = true;
  }
  g.set_input(&n, 1, dequantize(g, n.input(1)->name(), std::move(wq), std::move(ws), std::move(wz), l.axis));
}

// Each activation's range: over the data, or from the folded BNs (and --input-range).
std::map<std::string, std::pair<double, double>> activation_ranges(const Graph& g, const std::vector<std::string>& inputs,
                                                                   const QuantizeOptions& o, std::string* from) {
  std::map<std::string, std::pair<double, double>> ranges;
  if (o.data) {
    ranges = measure_ranges(g, inputs, o);
    *from = fmt::format("calibration data ({} samples)", o.data->size());
  } else {
    const std::vector<FoldedBn> bns = folded_bns(g);
    std::map<std::string, const FoldedBn*> by_value;
    for (const FoldedBn& f : bns)
      if (f.output) by_value[f.value] = &f;
    std::vector<std::string> unknown;
    for (const auto& name : inputs) {
      const Value* x = g.find_value(name);
      double lo = 0, hi = 0;
      if (x->is_graph_input() && o.input_range.size() == 2) ranges[name] = {o.input_range[0], o.input_range[1]};
      else if (range_from_bns(g, x, by_value, &lo, &hi)) ranges[name] = {lo, hi};
      else unknown.push_back(name);
    }
    BNFOLD_CHECK(unknown.empty(), ErrorCode::InvalidArgument,
                 "no range for '{}'{}: without data a range comes from the BN folded into the layer that makes the "
                 "tensor; give calibration data (--data){}",
                 unknown[0], unknown.size() > 1 ? fmt::format(" and {} more tensors", unknown.size() - 1) : "",
                 g.find_value(unknown[0])->is_graph_input() ? " or the input's range (--input-range LO,HI)" : "");
    *from = "BN statistics";
  }
  return ranges;
}

}  // namespace

QuantizeResult quantize_model(const Graph& original, const QuantizeOptions& o) {
  QuantizeResult res;
  BNFOLD_CHECK(o.input_range.empty() || (o.input_range.size() == 2 && o.input_range[0] < o.input_range[1]),
               ErrorCode::InvalidArgument, "the input range takes lo and hi with lo < hi");
  std::shared_ptr<Graph> g = clone_graph(original);
  BNFOLD_CHECK(g->opset() >= 13, ErrorCode::Unsupported,
               "quantize writes one weight scale per output channel (DequantizeLinear's axis), which needs opset "
               "13; the model has opset {}: export it at 13 or later",
               g->opset());
  res.folded = fold_batchnorms(*g).folded();
  if (o.equalize) res.equalized = make_pass("equalize")->run(*g);
  res.float_model = clone_graph(*g);

  std::map<std::string, QuantVerdict> verdicts;  // of the folded float weights, before they are replaced
  for (const LayerReadiness& r : quantization_readiness(*g)) verdicts[r.node] = r.verdict;
  std::vector<Layer> layers;
  std::vector<std::string> inputs;  // the activations to quantize, once each
  for (Node* n : g->topological_order()) {
    if (n->op_type() != "Conv" && n->op_type() != "Gemm" && n->op_type() != "MatMul") continue;
    int64_t axis = 0;
    if (const std::string why = why_not(*n, &axis); !why.empty()) {
      res.skipped.push_back(fmt::format("{}: {}", node_name(*n), why));
      continue;
    }
    layers.push_back({n, axis});
    if (std::find(inputs.begin(), inputs.end(), n->input(0)->name()) == inputs.end())
      inputs.push_back(n->input(0)->name());
  }
  BNFOLD_CHECK(!layers.empty(), ErrorCode::InvalidArgument,
               "nothing to quantize: no Conv, Gemm or MatMul with constant float32 weights");

  const auto ranges = activation_ranges(*g, inputs, o, &res.ranges_from);
  const std::vector<FoldedBn> bns = folded_bns(*g);
  std::map<std::string, const FoldedBn*> records;
  for (const FoldedBn& f : bns)
    if (f.output) records[f.value] = &f;

  // Activations: QuantizeLinear -> DequantizeLinear, read by the quantized layers only.
  std::map<std::string, ActivationQdq> qdq;
  for (const auto& name : inputs) qdq[name] = insert_qdq(*g, name, ranges.at(name));
  for (const Layer& l : layers) {
    QuantizedLayer q;
    q.node = node_name(*l.node);
    q.op = l.node->op_type();
    q.input = l.node->input(0)->name();
    q.low = ranges.at(q.input).first;
    q.high = ranges.at(q.input).second;
    q.scale = qdq.at(q.input).scale;
    q.zero_point = qdq.at(q.input).zero_point;
    if (auto it = verdicts.find(q.node); it != verdicts.end()) q.verdict = it->second;
    quantize_layer(*g, l, o.bias_correction ? expected_channels(*g, l.node->input(0), records) : std::vector<double>{},
                   &q);
    g->set_input(l.node, 0, qdq.at(q.input).dequantized);
    res.layers.push_back(q);
  }
  g->remove_unused_values();
  res.model = g;
  return res;
}

}  // namespace bnfold
