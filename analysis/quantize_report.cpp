// What quantize and the readiness report say: the int8 model checked against
// the float one on data, and both reports as JSON.
#include <nlohmann/json.hpp>

#include <cmath>

#include "bnfold/analysis/quantize.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
#include "graph/check.hpp"

namespace bnfold {

QuantizeCheck check_quantized(const QuantizeResult& result, const Dataset& d, int64_t max_samples, int64_t batch,
                              int threads) {
  BNFOLD_CHECK(batch > 0 && max_samples > 0, ErrorCode::InvalidArgument, "batch and samples must be positive");
  SessionOptions so;
  so.threads = threads;
  Session f(result.float_model, so), q(result.model, so);
  const std::string in = f.inputs()[0].name, out = f.outputs()[0].name;
  QuantizeCheck c;
  double err = 0, ref = 0;
  int64_t agree = 0, right_f = 0, right_q = 0;
  const int64_t n = std::min(d.size(), max_samples);
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t count = std::min(batch, n - start);
    const Tensor x = d.batch(start, count);
    const Tensor yf = f.run({{in, x}}).at(out), yq = q.run({{in, x}}).at(out);
    for (int64_t i = 0; i < yf.numel(); ++i) {
      err += std::pow(yq.value_at(i) - yf.value_at(i), 2);
      ref += std::pow(yf.value_at(i), 2);
    }
    if (yf.rank() != 2 || yf.dims()[1] < 2) continue;
    for (int64_t r = 0; r < count; ++r) {
      const int64_t pf = top_k(yf, r, 1)[0].first, pq = top_k(yq, r, 1)[0].first;
      agree += pf == pq;
      if (!d.has_labels()) continue;
      const int64_t label = d.labels()[static_cast<size_t>(start + r)];
      right_f += pf == label;
      right_q += pq == label;
    }
  }
  c.samples = n;
  c.relative_rms = ref > 0 ? std::sqrt(err / ref) : 0;
  const auto share = [n](int64_t k) { return n > 0 ? static_cast<double>(k) / static_cast<double>(n) : 0.0; };
  c.agreement = share(agree);
  if (d.has_labels() && n > 0) c.accuracy_float = share(right_f), c.accuracy_int8 = share(right_q);
  return c;
}

std::string quantize_json(const QuantizeResult& r, const QuantizeCheck* c) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"node", l.node}, {"op", l.op}, {"input", l.input}, {"range", {l.low, l.high}},
                      {"scale", l.scale}, {"zero_point", l.zero_point},
                      {"weight_scales", {l.weight_scale_min, l.weight_scale_max}}, {"bias_int32", l.bias},
                      {"bias_correction_rms", l.bias_correction},
                      {"weights_verdict", to_string(l.verdict)}});
  nlohmann::json j = {{"bns_folded", r.folded}, {"equalized", r.equalized}, {"ranges_from", r.ranges_from},
                      {"layers", layers}, {"skipped", r.skipped}};
  if (c) {
    j["check"] = {{"samples", c->samples}, {"output_relative_rms", c->relative_rms}, {"top1_agreement", c->agreement}};
    if (c->accuracy_float >= 0) j["check"]["accuracy"] = {{"float", c->accuracy_float}, {"int8", c->accuracy_int8}};
  }
  return j.dump();
}

ModelReadiness model_readiness(const Graph& model) {
  ModelReadiness r;
  std::shared_ptr<Graph> g = clone_graph(model);
  r.bns_folded_first = fold_batchnorms(*g).folded();
  r.layers = quantization_readiness(*g);
  return r;
}

std::string readiness_json(const std::vector<LayerReadiness>& layers, size_t bns_folded_first) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : layers)
    out.push_back({{"node", l.node}, {"op", l.op}, {"channels", l.channels}, {"depthwise", l.depthwise},
                   {"range_ratio", l.range_ratio}, {"collapsed_channels", l.collapsed},
                   {"sqnr_per_tensor_db", l.sqnr_tensor_db}, {"sqnr_per_channel_db", l.sqnr_channel_db},
                   {"equalize_with", l.equalize_with}, {"bn", l.bn}, {"inflated_channels", l.inflated},
                   {"activation_range", {l.act_low, l.act_high}}, {"verdict", to_string(l.verdict)},
                   {"why", l.why}});
  return nlohmann::json({{"bns_folded_first", bns_folded_first}, {"min_sqnr_db", ReadinessOptions().min_sqnr_db},
                         {"layers", out}})
      .dump();
}

}  // namespace bnfold
