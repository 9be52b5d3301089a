#include "bnfold/analysis/quant_readiness.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "bnfold/graph/folded_bns.hpp"
#include "bnfold/passes/equalize.hpp"

namespace bnfold {

const char* to_string(QuantVerdict v) {
  switch (v) {
    case QuantVerdict::PerTensorSafe: return "per-tensor safe";
    case QuantVerdict::NeedsPerChannel: return "needs per-channel";
    case QuantVerdict::NeedsEqualization: return "needs equalization";
    case QuantVerdict::KeepFp32: return "keep in fp32";
  }
  return "?";
}

namespace {

bool is_float(DType t) { return t == DType::Float32 || t == DType::Float64 || t == DType::Float16; }

// The constant weights of a layer and the output channel of each weight; false when n is not such a layer.
bool layer_weights(const Node& n, const Tensor** w, std::vector<int64_t>* channel_of, int64_t* channels) {
  const std::string& op = n.op_type();
  if (op != "Conv" && op != "ConvTranspose" && op != "Gemm" && op != "MatMul") return false;
  if (n.inputs().size() < 2 || !n.input(1) || !n.input(1)->has_data()) return false;
  const Tensor& t = n.input(1)->data();
  if (!is_float(t.dtype()) || t.rank() < 2 || t.numel() == 0) return false;
  const auto& d = t.dims();
  const int64_t numel = t.numel();
  channel_of->resize(static_cast<size_t>(numel));
  const int64_t group = n.has_attr("group") ? n.attr_int("group") : 1;
  if (op == "Conv") {  // [M, C/g, k...]
    *channels = d[0];
    for (int64_t i = 0; i < numel; ++i) (*channel_of)[static_cast<size_t>(i)] = i / (numel / d[0]);
  } else if (op == "ConvTranspose") {  // [C, M/g, k...]: output channel = group * M/g + m
    const int64_t c_per_group = d[0] / std::max<int64_t>(group, 1), mg = d[1], ks = numel / (d[0] * d[1]);
    *channels = mg * group;
    for (int64_t i = 0; i < numel; ++i) {
      const int64_t c = i / (mg * ks), m = (i / ks) % mg;
      (*channel_of)[static_cast<size_t>(i)] = (c / c_per_group) * mg + m;
    }
  } else {  // Gemm B: [K, N], or [N, K] with transB; MatMul: a 2-D B [K, N]
    if (t.rank() != 2) return false;
    const bool trans = op == "Gemm" && n.has_attr("transB") && n.attr_int("transB") != 0;
    *channels = trans ? d[0] : d[1];
    for (int64_t i = 0; i < numel; ++i) (*channel_of)[static_cast<size_t>(i)] = trans ? i / d[1] : i % d[1];
  }
  *w = &t;
  return true;
}

// The value of each channel's SQNR (dB) at the worst tenth of the channels with any signal.
double low_decile(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 10];
}

double db(double signal, double noise) {
  if (noise <= 0) return 200;  // exact: weights already on the int8 grid
  return 10 * std::log10(signal / noise);
}

// Symmetric int8 error of w at step `scale` (127 levels each side).
double int8_error(double w, double scale) {
  if (scale <= 0) return w * w;
  const double q = std::clamp(std::nearbyint(w / scale), -127.0, 127.0);
  const double e = w - q * scale;
  return e * e;
}

}  // namespace

std::vector<LayerReadiness> quantization_readiness(const Graph& g, const ReadinessOptions& options) {
  std::map<std::string, FoldedBn> by_output;  // records of BNs folded into the layer producing their output
  for (FoldedBn& f : folded_bns(g))
    if (f.output) by_output.emplace(f.value, std::move(f));
  std::vector<LayerReadiness> out;
  for (const Node* n : g.topological_order()) {
    const Tensor* w = nullptr;
    std::vector<int64_t> channel_of;
    int64_t channels = 0;
    if (!layer_weights(*n, &w, &channel_of, &channels) || channels <= 0) continue;
    LayerReadiness r;
    r.node = node_name(*n);
    r.op = n->op_type();
    r.channels = channels;
    const int64_t group = n->has_attr("group") ? n->attr_int("group") : 1;
    r.depthwise = r.op == "Conv" && group > 1 && group == channels && w->dims()[1] == 1;
    const auto C = static_cast<size_t>(channels);
    std::vector<double> peak(C, 0), energy(C, 0);
    double top = 0;
    for (int64_t i = 0; i < w->numel(); ++i) {
      const double x = w->value_at(i);
      const size_t c = static_cast<size_t>(channel_of[static_cast<size_t>(i)]);
      peak[c] = std::max(peak[c], std::fabs(x));
      energy[c] += x * x;
      top = std::max(top, std::fabs(x));
    }
    std::vector<double> err_t(C, 0), err_c(C, 0);
    for (int64_t i = 0; i < w->numel(); ++i) {
      const double x = w->value_at(i);
      const size_t c = static_cast<size_t>(channel_of[static_cast<size_t>(i)]);
      err_t[c] += int8_error(x, top / 127);
      err_c[c] += int8_error(x, peak[c] / 127);
    }
    std::vector<double> sq_t, sq_c;
    double smallest = 0;
    for (size_t c = 0; c < C; ++c) {
      if (energy[c] <= 0) continue;  // a pruned channel: nothing to lose
      sq_t.push_back(db(energy[c], err_t[c]));
      sq_c.push_back(db(energy[c], err_c[c]));
      smallest = smallest == 0 ? peak[c] : std::min(smallest, peak[c]);
      if (peak[c] < 0.5 * top / 127) ++r.collapsed;
    }
    r.range_ratio = smallest > 0 ? top / smallest : 1;
    r.sqnr_tensor_db = low_decile(sq_t);
    r.sqnr_channel_db = low_decile(sq_c);
    std::vector<double> balance;
    double imbalance = 0;  // the largest |log s_c| equalization would apply: 0 once equalized
    if (const Node* next = equalization_pair(*n, &balance)) {
      r.equalize_with = node_name(*next);
      for (double s : balance) imbalance = std::max(imbalance, std::fabs(std::log(s)));
    }
    if (auto it = by_output.find(n->output(0)->name()); it != by_output.end() && it->second.channels() == channels) {
      const FoldedBn& f = it->second;
      r.bn = f.bn;
      // The variance's part of the folded scale gamma / sqrt(var + eps) alone: a large gamma is the
      // model's choice, a near-zero variance (a channel almost dead on the calibration data) is not.
      std::vector<double> scale(C);
      for (size_t c = 0; c < C; ++c) scale[c] = 1 / std::sqrt(static_cast<double>(f.var[c]) + f.epsilon);
      std::vector<double> sorted = scale;
      std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(C / 2), sorted.end());
      const double median = sorted[C / 2];
      for (size_t c = 0; c < C; ++c)
        if (median > 0 && scale[c] > 10 * median) r.inflated.push_back(static_cast<int64_t>(c));
      r.act_low = r.act_high = f.beta[0];
      for (size_t c = 0; c < C; ++c) {
        r.act_low = std::min(r.act_low, f.beta[c] - 3.0 * std::fabs(f.gamma[c]));
        r.act_high = std::max(r.act_high, f.beta[c] + 3.0 * std::fabs(f.gamma[c]));
      }
      const Node* after = n->output(0)->uses().size() == 1 ? n->output(0)->uses()[0].node : nullptr;
      if (after && after->op_type() == "Relu") r.act_low = std::max(r.act_low, 0.0), r.act_high = std::max(r.act_high, 0.0);
    }
    const double bar = options.min_sqnr_db;
    const std::string t = fmt::format("per-tensor {:.1f} dB", r.sqnr_tensor_db);
    const std::string c = fmt::format("per-channel {:.1f} dB", r.sqnr_channel_db);
    const std::string spread = fmt::format("channel ranges differ {:.3g}x{}", r.range_ratio,
                                           r.collapsed ? fmt::format(", {} channel(s) round to 0", r.collapsed) : "");
    if (r.sqnr_tensor_db >= bar) {
      r.verdict = QuantVerdict::PerTensorSafe;
      r.why = t;
    } else if (r.sqnr_channel_db >= bar && !r.equalize_with.empty() && r.range_ratio >= 8 &&
               imbalance > std::log(2.0)) {
      r.verdict = QuantVerdict::NeedsEqualization;
      r.why = fmt::format("{}: {}; {}; equalizing with {} evens the ranges for per-tensor scales", t, spread, c,
                          r.equalize_with);
    } else if (r.sqnr_channel_db >= bar) {
      r.verdict = QuantVerdict::NeedsPerChannel;
      r.why = fmt::format("{}: {}; {}{}", t, spread, c,
                          r.equalize_with.empty() ? "" : "; balanced with " + r.equalize_with + " already");
    } else {
      r.verdict = QuantVerdict::KeepFp32;
      r.why = fmt::format("{}, {}: outliers within channels", t, c);
    }
    if (!r.inflated.empty())
      r.why += fmt::format("; {} channel(s) with a tiny running variance inflate the folded weights", r.inflated.size());
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace bnfold
