#include "analysis/verify_fold.hpp"

#include <cmath>

#include "graph/check.hpp"
#include "graph/onnx_io.hpp"
#include "runtime/session.hpp"
#include "runtime/tensor_tools.hpp"

namespace bnfold {

namespace {

// A copy of g (through its serialized form) whose extra values are also outputs.
std::shared_ptr<Graph> with_outputs(const Graph& g, const std::vector<std::string>& extra) {
  std::shared_ptr<Graph> copy = clone_graph(g);
  for (const auto& name : extra) {
    Value* v = copy->find_value(name);
    if (v && !v->is_graph_output()) copy->add_output(v);
  }
  return copy;
}

ValueCheck check(const std::string& name, const Tensor& got, const Tensor& want, double rtol, double atol) {
  const TensorStats st = tensor_stats(want);
  const double scale = std::max(std::fabs(st.min), std::fabs(st.max));
  if (atol < 0) atol = 1e-4 * scale;
  const TensorDiff d = compare_tensors(got, want, rtol, atol);
  ValueCheck c;
  c.name = name;
  c.scale = scale;
  c.atol = atol;
  c.max_abs = d.max_abs;
  c.max_rel = d.max_rel;
  c.mismatches = d.shape_mismatch ? got.numel() : d.mismatches;
  return c;
}

}  // namespace

VerifyResult verify_fold(const Graph& original, const Graph& folded, FoldReport* report,
                         const VerifyOptions& options) {
  // The points to compare: each fold's output value, present in both graphs.
  std::vector<std::pair<std::string, std::string>> points;  // report key, value name
  if (report) {
    for (const std::string& key : report->order()) {
      const BnFoldRow* row = report->find(key);
      // A BN folded forward has no output of its own left: compare after the
      // layer it went into.
      std::string at = key;
      if (row->action == FoldAction::FoldedForward)
        at = row->target_node && row->target_node->output(0) ? row->target_node->output(0)->name() : "";
      if (!at.empty() && original.find_value(at) && folded.find_value(at)) points.emplace_back(key, at);
    }
  }
  std::vector<std::string> extra;
  for (const auto& p : points) extra.push_back(p.second);
  SessionOptions so;
  so.threads = options.threads;
  Session a(with_outputs(original, extra), so);
  Session b(with_outputs(folded, extra), so);
  std::map<std::string, Tensor> inputs = options.inputs;
  if (inputs.size() < a.inputs().size()) {
    auto random = random_inputs(a, options.batch, options.seed);
    for (auto& [k, v] : random) inputs.emplace(k, std::move(v));
  }
  const auto ra = a.run(inputs);
  const auto rb = b.run(inputs);
  VerifyResult result;
  for (const Value* v : original.outputs()) {
    ValueCheck c = check(v->name(), rb.at(v->name()), ra.at(v->name()), options.rtol, options.atol);
    result.ok &= c.mismatches == 0;
    result.outputs.push_back(c);
  }
  for (const auto& [key, at] : points) {
    ValueCheck c = check(at, rb.at(at), ra.at(at), options.rtol, options.atol);
    result.folds.push_back(c);
    BnFoldRow* row = report->find(key);
    row->max_abs_error = c.max_abs;
    row->measured_at = at;
  }
  return result;
}

}  // namespace bnfold
