#include "bnfold/graph/batchnorm.hpp"

#include "graph/check.hpp"
#include "bnfold/graph/folded_bns.hpp"

namespace bnfold {

BatchNormAttrs batchnorm_attrs(const Node& bn) {
  BNFOLD_CHECK(bn.op_type() == "BatchNormalization", ErrorCode::Internal,
               "{} is not a BatchNormalization", bn.label());
  BatchNormAttrs a;
  a.epsilon = bn.attr_float("epsilon");
  a.momentum = bn.attr_float("momentum");
  a.optional_outputs_used = false;
  for (size_t k = 1; k < bn.outputs().size(); ++k) {
    const Value* out = bn.output(k);
    if (out && (!out->uses().empty() || out->is_graph_output())) a.optional_outputs_used = true;
  }
  if (auto spatial = bn.find_attr("spatial"); spatial && spatial->kind == AttrKind::Int)
    a.spatial = spatial->i != 0;

  const int64_t opset = bn.graph_opset();
  if (opset < 7) {
    // BatchNormalization-1/-6: is_test defaults to 0, i.e. training.
    auto is_test = bn.find_attr("is_test");
    if (!is_test || is_test->i == 0) {
      a.training = true;
      a.training_why = is_test && bn.has_attr("is_test") ? "is_test=0" : "is_test absent (defaults to 0)";
    }
  } else if (opset < 14) {
    // 7-13 have no mode attribute: asking for the running statistics is training.
    if (bn.outputs().size() > 1 && a.optional_outputs_used) {
      a.training = true;
      a.training_why = "mean/var outputs in use";
    }
  } else if (bn.attr_int("training_mode") != 0) {
    a.training = true;
    a.training_why = "training_mode=1";
  }
  return a;
}

bool BatchNorm::is(const Node& n) {
  return n.op_type() == "BatchNormalization" && n.domain().empty() && n.output(0);
}

std::optional<BatchNorm> BatchNorm::of(Node& n) {
  if (!is(n)) return std::nullopt;
  return BatchNorm(n, batchnorm_attrs(n));
}

std::string BatchNorm::name() const { return node_name(*node_); }

bool BatchNorm::constant(size_t k) const {
  const Value* v = k < node_->inputs().size() ? node_->input(k) : nullptr;
  return v && v->is_constant();
}

bool BatchNorm::inference_with_constants() const {
  return inference() && constant(1) && constant(2) && constant_statistics();
}

const Tensor& BatchNorm::running_mean() const {
  BNFOLD_CHECK(constant(3), ErrorCode::Internal, "{}: its running mean is not constant", node_->label());
  return node_->input(3)->data();
}

const Tensor& BatchNorm::running_var() const {
  BNFOLD_CHECK(constant(4), ErrorCode::Internal, "{}: its running variance is not constant", node_->label());
  return node_->input(4)->data();
}

std::vector<BatchNorm> batchnorms(const Graph& graph) {
  std::vector<BatchNorm> out;
  for (Node* n : graph.topological_order())
    if (auto bn = BatchNorm::of(*n)) out.push_back(*bn);
  return out;
}

std::vector<RunningStatistics> running_statistics(const Graph& graph, std::vector<std::string>* not_constant) {
  std::vector<RunningStatistics> all;
  for (const BatchNorm& bn : batchnorms(graph)) {
    if (!bn.constant_statistics()) {
      if (not_constant) not_constant->push_back(bn.name());
      continue;
    }
    RunningStatistics r{bn.name(), bn.epsilon(), {}, {}, bn.attrs().training, false};
    for (int64_t c = 0; c < bn.running_mean().numel(); ++c) r.mean.push_back(bn.running_mean().value_at(c));
    for (int64_t c = 0; c < bn.running_var().numel(); ++c) r.var.push_back(bn.running_var().value_at(c));
    all.push_back(std::move(r));
  }
  for (const FoldedBn& f : folded_bns(graph))
    all.push_back({f.bn, f.epsilon, {f.mean.begin(), f.mean.end()}, {f.var.begin(), f.var.end()}, false, true});
  return all;
}

std::vector<BatchNorm> inference_batchnorms(const Graph& graph) {
  std::vector<BatchNorm> out;
  for (const BatchNorm& bn : batchnorms(graph))
    if (bn.inference_with_constants()) out.push_back(bn);
  return out;
}

}  // namespace bnfold
