// Reduced precision against float32 (and float64): see precision_check.hpp.
#include "bnfold/analysis/precision_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "analysis/evaluate.hpp"
#include "analysis/verify_inputs.hpp"
#include "bnfold/analysis/float64.hpp"
#include "graph/check.hpp"

#include <nlohmann/json.hpp>

namespace bnfold {

namespace {

struct Sums {
  double err2 = 0, ref2 = 0, max_abs = 0;
};

void add(Sums& s, const Tensor& got, const Tensor& want, const std::string& name) {
  BNFOLD_CHECK(got.dims() == want.dims(), ErrorCode::InvalidArgument,
               "output '{}': the model judged gives shape {}, the float32 model {}", name,
               Shape::of(got.dims()).str(), Shape::of(want.dims()).str());
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = got.value_at(i) - want.value_at(i);
    s.err2 += d * d;
    s.ref2 += want.value_at(i) * want.value_at(i);
    s.max_abs = std::max(s.max_abs, std::isnan(d) ? INFINITY : std::fabs(d));
  }
}

double relative(const Sums& s) {
  if (s.ref2 > 0) return std::sqrt(s.err2 / s.ref2);
  return s.err2 > 0 ? INFINITY : 0;
}

double relative(const Tensor& got, const Tensor& want, const std::string& name) {
  Sums s;
  add(s, got, want, name);
  return relative(s);
}

std::string pct(double v) { return std::isfinite(v) ? fmt::format("{:.3g}%", 100 * v) : "infinite"; }

std::vector<std::string> names(const std::vector<TensorSpec>& specs) {
  std::vector<std::string> out;
  for (const auto& s : specs) out.push_back(s.name);
  return out;
}

// The samples: batches of the data set, given inputs, or random data-like ones.
struct Feeder {
  const PrecisionCheckOptions& o;
  const Graph& model;
  const Session& session;
  std::string input;  // the data's input
  int64_t total = 0;

  std::map<std::string, Tensor> batch(int64_t start, int64_t count, std::string* how) const {
    if (o.data) return {{input, o.data->batch(start, count)}};
    DataLikeInputs in = data_like_inputs(model, session, o.inputs, count, o.seed + static_cast<uint64_t>(start),
                                         o.mean, o.std);
    if (how) *how = in.description;
    return in.inputs;
  }
};

void judge(PrecisionCheck& r, const std::string& float64_note) {
  const std::string on = fmt::format("on {} sample{} ({})", r.samples, r.samples == 1 ? "" : "s", r.inputs);
  if (r.judged_by == "accuracy") {
    const double drop = r.accuracy_float32 - r.accuracy_candidate;
    r.ok = drop <= r.max_accuracy_drop + 1e-12;
    const double points = std::round(-10000 * drop) / 100;  // no "-0.00"
    r.verdict.push_back(fmt::format(
        "{} {}: top-1 accuracy {:.2f}% against {:.2f}% in float32 ({}{:.2f} points; at most {:.2g} lost allowed), {}.",
        r.precision, r.ok ? "passes" : "FAILS", 100 * r.accuracy_candidate, 100 * r.accuracy_float32,
        points > 0 ? "+" : "", points == 0 ? 0.0 : points, 100 * r.max_accuracy_drop, on));
  } else {
    const auto worst = std::max_element(r.outputs.begin(), r.outputs.end(), [](const auto& a, const auto& b) {
      return a.relative_rms < b.relative_rms || std::isnan(b.relative_rms);
    });
    r.verdict.push_back(fmt::format("{} {}: {} output{} within {} relative RMS error of float32 (largest: '{}', {}), {}.",
                                    r.precision, r.ok ? "passes" : "FAILS", r.ok ? "every" : "not every",
                                    r.outputs.size() == 1 ? "" : "s", pct(r.max_relative_error), worst->name,
                                    pct(worst->relative_rms), on));
  }
  for (const auto& c : r.outputs)
    if (c.agreement >= 0)
      r.verdict.push_back(fmt::format("Its top class is float32's on {} of the samples ('{}').", pct(c.agreement), c.name));
  for (const auto& c : r.outputs)
    if (c.relative_rms_f64 >= 0)
      r.verdict.push_back(fmt::format(
          "Against float64 ({} sample{}), '{}': {} {} relative RMS, float32 itself {}{}.", r.float64_samples,
          r.float64_samples == 1 ? "" : "s", c.name, r.precision, pct(c.relative_rms_f64), pct(c.float32_rms_f64),
          c.relative_rms_f64 > 10 * c.float32_rms_f64 ? ": the difference is the precision's, not float32's" : ""));
  if (!float64_note.empty()) r.verdict.push_back(float64_note);
}

}  // namespace

double default_relative_error(const std::string& precision) {
  return precision.rfind("int8", 0) == 0 ? 0.05 : 0.02;
}

bool is_quantized_model(const Graph& g) {
  for (const Node* n : g.nodes()) {
    const std::string& op = n->op_type();
    if (op == "QuantizeLinear" || op == "DequantizeLinear" || op == "DynamicQuantizeLinear" ||
        op.rfind("QLinear", 0) == 0 || op == "ConvInteger" || op == "MatMulInteger")
      return true;
  }
  return false;
}

PrecisionCheck check_precision(std::shared_ptr<const Graph> float32_model, std::shared_ptr<const Graph> candidate,
                               Precision candidate_precision, const PrecisionCheckOptions& o) {
  BNFOLD_CHECK(o.samples > 0 && o.batch > 0, ErrorCode::InvalidArgument,
               "samples ({}) and batch ({}) must be positive", o.samples, o.batch);
  BNFOLD_CHECK(o.max_accuracy_drop >= 0 && o.max_accuracy_drop <= 1, ErrorCode::InvalidArgument,
               "the accuracy drop allowed must be between 0 and 1 (a share; 0.01 is one point), not {}",
               o.max_accuracy_drop);
  BNFOLD_CHECK(!std::isnan(o.max_relative_error), ErrorCode::InvalidArgument, "the relative error allowed is NaN");
  const bool int8 = is_quantized_model(*candidate), bf16 = candidate_precision == Precision::BFloat16;
  BNFOLD_CHECK(int8 || bf16, ErrorCode::InvalidArgument,
               "the model judged computes in float32 (no quantized nodes, precision fp32): there is no reduced "
               "precision to judge; `bnfold verify ORIGINAL FOLDED` compares two float32 models");
  PrecisionCheck r;
  r.precision = int8 ? (bf16 ? "int8 with bf16" : "int8") : "bf16";
  r.max_accuracy_drop = o.max_accuracy_drop;
  r.max_relative_error = o.max_relative_error >= 0 ? o.max_relative_error : default_relative_error(r.precision);

  SessionOptions so;
  so.threads = o.threads;
  Session f(float32_model, so);
  SessionOptions co = so;
  co.precision = candidate_precision;
  Session c(candidate, co);
  const std::vector<std::string> outs = names(f.outputs()), ins = names(f.inputs());
  const std::vector<std::string> cand_outs = names(c.outputs()), cand_ins = names(c.inputs());
  BNFOLD_CHECK(std::set<std::string>(ins.begin(), ins.end()) == std::set<std::string>(cand_ins.begin(), cand_ins.end()),
               ErrorCode::InvalidArgument, "the model judged has inputs [{}], the float32 model [{}]",
               fmt::join(cand_ins, ", "), fmt::join(ins, ", "));
  for (const auto& name : outs)
    BNFOLD_CHECK(std::count(cand_outs.begin(), cand_outs.end(), name), ErrorCode::InvalidArgument,
                 "the model judged has no output '{}' (it has [{}])", name, fmt::join(cand_outs, ", "));

  Feeder feed{o, *float32_model, f, ins.empty() ? "" : ins[0]};
  bool one_batch = false;
  if (o.data) {
    BNFOLD_CHECK(o.data->size() > 0, ErrorCode::InvalidArgument, "the data set is empty");
    feed.total = std::min(o.data->size(), o.samples);
    r.inputs = feed.total < o.data->size() ? fmt::format("the first {} of {}", feed.total, o.data->description)
                                           : o.data->description;
  } else {
    one_batch = true;
    for (const auto& name : ins) one_batch &= o.inputs.count(name) > 0;
    feed.total = one_batch ? 1 : o.samples;  // given inputs: their batch, whatever it is
  }
  const bool labeled = o.data && o.data->has_labels();
  std::vector<Sums> sums(outs.size());
  std::vector<int64_t> agree(outs.size(), 0);
  int scores = -1;
  int64_t right_f = 0, right_c = 0, done = 0;
  std::string float64_note;
  for (int64_t start = 0; start < feed.total; start += o.batch) {
    const int64_t count = std::min(o.batch, feed.total - start);
    std::string how;
    const std::map<std::string, Tensor> x = feed.batch(start, count, &how);
    if (!o.data) r.inputs = how;
    const auto yf = f.run(x), yc = c.run(x);
    const int64_t rows = yf.at(outs[0]).rank() > 0 ? yf.at(outs[0]).dims()[0] : 1;
    if (start == 0) {
      std::vector<OutputSpec> specs;
      for (const auto& name : outs) specs.push_back({name, yf.at(name).dtype(), yf.at(name).dims()});
      scores = class_output(specs);
      if (scores >= 0) r.scores_output = outs[static_cast<size_t>(scores)];
      if (labeled && scores >= 0) check_labels_fit(o.data->labels(), specs[static_cast<size_t>(scores)].dims[1], r.scores_output);
      r.outputs.resize(outs.size());
      for (size_t k = 0; k < outs.size(); ++k) r.outputs[k].name = outs[k];
      if (o.float64_reference) {
        try {
          SessionOptions ro = so;
          ro.use_onednn = false;
          Session r64(as_float64(*float32_model), ro);
          const auto y64 = r64.run(as_float64(x));
          for (size_t k = 0; k < outs.size(); ++k) {
            r.outputs[k].relative_rms_f64 = relative(yc.at(outs[k]), y64.at(outs[k]), outs[k]);
            r.outputs[k].float32_rms_f64 = relative(yf.at(outs[k]), y64.at(outs[k]), outs[k]);
          }
          r.float64_samples = rows;
        } catch (const Error& e) {
          float64_note = fmt::format("Not measured against float64: {}", e.what());
        }
      }
    }
    for (size_t k = 0; k < outs.size(); ++k) add(sums[k], yc.at(outs[k]), yf.at(outs[k]), outs[k]);
    if (scores >= 0) {
      const std::string& s = outs[static_cast<size_t>(scores)];
      agree[static_cast<size_t>(scores)] += std::llround(top1_agreement(yf.at(s), yc.at(s)) * static_cast<double>(rows));
      if (labeled) {
        const std::vector<int64_t> labels(o.data->labels().begin() + start, o.data->labels().begin() + start + count);
        right_f += std::llround(top_k_accuracy(yf.at(s), labels, 1, s) * static_cast<double>(count));
        right_c += std::llround(top_k_accuracy(yc.at(s), labels, 1, s) * static_cast<double>(count));
      }
    }
    done += rows;
    if (one_batch) break;
  }
  r.samples = done;
  for (size_t k = 0; k < outs.size(); ++k) {
    PrecisionOutputCheck& out = r.outputs[k];
    out.relative_rms = relative(sums[k]);
    out.max_abs = sums[k].max_abs;
    if (static_cast<int>(k) == scores) out.agreement = static_cast<double>(agree[k]) / static_cast<double>(done);
  }
  r.judged_by = labeled && scores >= 0 ? "accuracy" : "relative error";
  if (labeled && scores >= 0) {
    r.accuracy_float32 = static_cast<double>(right_f) / static_cast<double>(done);
    r.accuracy_candidate = static_cast<double>(right_c) / static_cast<double>(done);
  }
  for (auto& out : r.outputs) {
    if (r.judged_by == "accuracy") {
      out.verdict = fmt::format("{} relative RMS (accuracy decides)", pct(out.relative_rms));
      continue;
    }
    out.ok = out.relative_rms <= r.max_relative_error;
    r.ok &= out.ok;
    out.verdict = fmt::format("{}: {} relative RMS, {} allowed", out.ok ? "within" : "FAIL", pct(out.relative_rms),
                              pct(r.max_relative_error));
  }
  judge(r, float64_note);
  return r;
}

std::string precision_json(const PrecisionCheck& r) {
  const auto num = [](double v) { return v >= 0 && std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json outputs = nlohmann::json::array();
  for (const auto& c : r.outputs)
    outputs.push_back({{"name", c.name}, {"relative_rms", num(c.relative_rms)}, {"max_abs", num(c.max_abs)},
                       {"relative_rms_float64", num(c.relative_rms_f64)}, {"float32_rms_float64", num(c.float32_rms_f64)},
                       {"top1_agreement", num(c.agreement)}, {"ok", c.ok}, {"verdict", c.verdict}});
  nlohmann::json j = {{"precision", r.precision}, {"inputs", r.inputs}, {"samples", r.samples},
                      {"float64_samples", r.float64_samples}, {"outputs", outputs}, {"judged_by", r.judged_by},
                      {"max_accuracy_drop", r.max_accuracy_drop}, {"max_relative_error", r.max_relative_error},
                      {"ok", r.ok}, {"verdict", r.verdict}};
  if (!r.scores_output.empty()) j["scores_output"] = r.scores_output;
  if (r.accuracy_float32 >= 0) j["accuracy"] = {{"float32", r.accuracy_float32}, {"candidate", r.accuracy_candidate}};
  return j.dump();
}

}  // namespace bnfold
