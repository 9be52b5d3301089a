#include "bnfold/analysis/verify_fold.hpp"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "bnfold/analysis/float64.hpp"
#include "analysis/verify_inputs.hpp"
#include "bnfold/graph/batchnorm.hpp"
#include "graph/check.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"

namespace bnfold {

namespace {

// A copy of g whose extra values are also outputs.
std::shared_ptr<Graph> with_outputs(const Graph& g, const std::vector<std::string>& extra) {
  std::shared_ptr<Graph> copy = clone_graph(g);
  for (const auto& name : extra) {
    Value* v = copy->find_value(name);
    if (v && !v->is_graph_output()) copy->add_output(v);
  }
  return copy;
}

// got (the folded model) against want (the reference); original: the
// original model's value in its own precision; noise: whether want is the
// float64 reference (then the original's error against it is the noise floor).
ValueCheck check(const std::string& name, const Tensor& got, const Tensor& want, const Tensor& original, bool noise,
                 const VerifyOptions& o) {
  const TensorStats st = tensor_stats(want);
  ValueCheck c;
  c.name = name;
  c.scale = std::max(std::fabs(st.min), std::fabs(st.max));
  // An all-zero reference gets a floor: 1e-4 x 0 would fail on 1e-19 of rounding.
  c.atol = o.atol >= 0 ? o.atol : c.scale > 0 ? 1e-4 * c.scale : kAtolFloor;
  const TensorDiff d = compare_tensors(got, want, o.rtol, c.atol);
  c.max_abs = d.shape_mismatch ? INFINITY : d.max_abs;
  c.max_rel = d.shape_mismatch ? INFINITY : d.max_rel;
  c.mismatches = d.shape_mismatch ? got.numel() : d.mismatches;
  if (noise) c.noise = compare_tensors(original, want, 0, 0).max_abs;
  const TensorDiff same = compare_tensors(got, original, 0, 0);
  if (d.shape_mismatch) {
    c.ok = false;
    c.verdict = fmt::format("FAIL: shape {} instead of {}", Shape::of(got.dims()).str(), Shape::of(want.dims()).str());
  } else if (c.mismatches == 0) {
    c.verdict = "within tolerance";
  } else if (!same.shape_mismatch && same.mismatches == 0) {
    c.verdict = "identical to the original (its error is the original's own)";
  } else if (std::isfinite(c.max_abs) && c.noise > 0 && c.max_abs <= o.noise_factor * c.noise) {
    c.verdict = fmt::format("within {:g}x the original's float32 noise", o.noise_factor);
  } else {
    c.ok = false;
    c.verdict = fmt::format("FAIL: {} elements beyond tolerance", c.mismatches);
    if (c.noise > 0 && std::isfinite(c.max_abs))
      c.verdict += fmt::format(", {:.3g}x the original's float32 noise", c.max_abs / c.noise);
  }
  return c;
}

// The nodes of the folded graph that compute `point` from values the
// original graph also has (its inputs and the values the fold kept), and
// those boundary values: the fold's layer, run alone on the original's
// values, gives the error that fold adds by itself.
struct Segment {
  std::string point;
  std::vector<const Node*> nodes;         // in topological order
  std::vector<const Value*> boundary;     // fed from the original's run
  std::vector<const Value*> constants;
};

bool find_segment(const Graph& folded, const Graph& original, const std::string& point, Segment* s) {
  const Value* p = folded.find_value(point);
  if (!p || !p->producer()) return false;
  s->point = point;
  std::set<const Node*> seen;
  std::set<const Value*> boundary, constants;
  std::vector<const Node*> stack = {p->producer()};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    if (seen.size() > 16) return false;  // not a local rewrite: nothing to isolate
    for (const Value* v : n->inputs()) {
      if (!v) continue;
      if (v->is_constant()) {
        constants.insert(v);
      } else if (v->name() != point && original.find_value(v->name()) && !original.find_value(v->name())->is_constant()) {
        boundary.insert(v);
      } else if (v->producer()) {
        stack.push_back(v->producer());
      } else {
        return false;
      }
    }
  }
  for (const Node* n : folded.topological_order())
    if (seen.count(n)) s->nodes.push_back(n);
  s->boundary.assign(boundary.begin(), boundary.end());
  s->constants.assign(constants.begin(), constants.end());
  return true;
}

std::shared_ptr<Graph> segment_graph(const Graph& folded, const Segment& s, const std::map<std::string, Tensor>& values) {
  auto g = std::make_shared<Graph>();
  g->info = folded.info;
  for (const Value* v : s.boundary) g->add_input(v->name(), v->dtype(), Shape::of(values.at(v->name()).dims()));
  for (const Value* v : s.constants) g->add_constant(v->name(), v->data());
  for (const Node* n : s.nodes) {
    std::vector<Value*> in;
    for (const Value* v : n->inputs()) in.push_back(v ? g->find_value(v->name()) : nullptr);
    std::vector<std::string> out;
    for (const Value* v : n->outputs()) out.push_back(v ? v->name() : "");
    Node* copy = g->add_node(n->op_type(), in, out, n->name(), n->domain());
    for (const auto& [k, a] : n->attrs()) copy->set_attr(k, a);
  }
  g->add_output(g->find_value(s.point));
  return g;
}

}  // namespace

VerifyResult verify_fold(const Graph& original, const Graph& folded, FoldReport* report, const VerifyOptions& o) {
  // The points to compare: each fold's output value, present in both graphs.
  std::vector<std::pair<std::string, std::string>> points;  // report key (empty without a report), value name
  if (o.outputs_only) {
    // none
  } else if (report) {
    for (const std::string& key : report->order()) {
      const BnFoldRow* row = report->find(key);
      // A BN folded forward has no output of its own left: compare after the
      // layer it went into.
      std::string at = key;
      if (row->action == FoldAction::FoldedForward)
        at = row->target_node && row->target_node->output(0) ? row->target_node->output(0)->name() : "";
      if (!at.empty() && original.find_value(at) && folded.find_value(at)) points.emplace_back(key, at);
    }
  } else {
    for (const BatchNorm& bn : batchnorms(original))
      if (folded.find_value(bn.node().output(0)->name())) points.emplace_back("", bn.node().output(0)->name());
  }
  std::vector<Segment> segments;
  std::vector<std::string> extra, boundary;
  for (const auto& p : points) {
    extra.push_back(p.second);
    Segment s;
    if (o.isolated && find_segment(folded, original, p.second, &s)) {
      for (const Value* v : s.boundary) boundary.push_back(v->name());
      segments.push_back(std::move(s));
    }
  }
  std::vector<std::string> original_extra = extra;
  original_extra.insert(original_extra.end(), boundary.begin(), boundary.end());

  SessionOptions so;
  so.threads = o.threads;
  std::shared_ptr<Graph> original_plus = with_outputs(original, original_extra);
  Session a(original_plus, so);
  Session b(with_outputs(folded, extra), so);
  VerifyResult result;
  result.noise_factor = o.noise_factor;
  DataLikeInputs in = data_like_inputs(original, a, o.inputs, o.batch, o.seed, o.mean, o.std);
  result.inputs = in.description;
  result.inputs_given = in.all_given;
  const auto ra = a.run(in.inputs);
  const auto rb = b.run(in.inputs);

  // The reference: the original in float64 by the reference kernels.
  std::map<std::string, Tensor> r64;
  result.reference = "the float32 original";
  if (o.float64_reference) {
    try {
      SessionOptions ro = so;
      ro.use_onednn = false;
      Session r(as_float64(*with_outputs(original, extra)), ro);
      r64 = r.run(as_float64(in.inputs));
      result.reference = "the original evaluated in float64 (reference kernels)";
    } catch (const Error& e) {
      result.reference = fmt::format("the float32 original (no float64 reference: {})", e.what());
    }
  }
  auto measure = [&](const std::string& name) {
    if (r64.empty()) return check(name, rb.at(name), ra.at(name), ra.at(name), false, o);
    return check(name, rb.at(name), r64.at(name), ra.at(name), true, o);
  };
  for (const Value* v : original.outputs()) {
    ValueCheck c = measure(v->name());
    result.ok &= c.ok;
    result.outputs.push_back(c);
  }
  std::map<std::string, double> isolated;
  for (const Segment& s : segments) {
    try {
      std::map<std::string, Tensor> feed;
      for (const Value* v : s.boundary) feed.emplace(v->name(), ra.at(v->name()));
      Session alone(segment_graph(folded, s, ra), so);
      isolated[s.point] = compare_tensors(alone.run(feed).at(s.point), ra.at(s.point), 0, 0).max_abs;
    } catch (const Error&) {
      // A segment that cannot run alone is not measured (isolated stays -1).
    }
  }
  for (const auto& [key, at] : points) {
    ValueCheck c = measure(at);
    auto it = isolated.find(at);
    if (it != isolated.end()) c.isolated = it->second;
    result.ok &= c.ok;
    result.folds.push_back(c);
    if (BnFoldRow* row = report ? report->find(key) : nullptr) {
      row->max_abs_error = c.max_abs;
      row->isolated_error = c.isolated;
      row->measured_at = at;
    }
  }
  return result;
}

}  // namespace bnfold
