#include "bnfold/graph/inspect.hpp"

#include <cmath>

#include "bnfold/graph/batchnorm.hpp"

namespace bnfold {

namespace {

// The constant behind a value, seen through Identity nodes: PyTorch's
// exporter shares equal initializers (a fresh model's BN statistics) that way.
const Tensor* constant_of(const Value* v) {
  while (v && !v->is_constant() && v->producer() && v->producer()->op_type() == "Identity")
    v = v->producer()->input(0);
  return v && v->is_constant() ? &v->data() : nullptr;
}

void fill_parameters(const Node& bn, double eps, BatchNormInfo* info) {
  // Inputs: X, scale, B, input_mean, input_var.
  const Tensor* p[5] = {};
  for (size_t k = 1; k <= 4; ++k)
    if (!(p[k] = constant_of(bn.input(k)))) return;
  info->params_constant = true;
  const Tensor& var = *p[4];
  info->channels = p[1]->numel();
  for (int64_t c = 0; c < var.numel(); ++c) {
    const double v = var.value_at(c);
    if (c == 0 || v < info->var_min) info->var_min = v;
    if (c == 0 || v > info->var_max) info->var_max = v;
    if (!(v + eps > 0) && std::isfinite(v)) info->var_eps_nonpositive.push_back(c);
  }
  for (int64_t c = 0; c < info->channels; ++c) {
    for (size_t k = 1; k <= 4; ++k) {
      const Tensor& t = *p[k];
      if (c < t.numel() && !std::isfinite(t.value_at(c))) {
        info->nonfinite.push_back(c);
        break;
      }
    }
  }
}

BatchNormInfo describe_batchnorm(const Node& bn) {
  BatchNormInfo info;
  info.name = bn.name();
  info.node_id = bn.id();
  const BatchNormAttrs attrs = batchnorm_attrs(bn);
  info.epsilon = attrs.epsilon;
  info.training = attrs.training;
  info.mode = attrs.training ? "training: " + attrs.training_why : "inference";
  info.spatial = attrs.spatial;
  if (const Value* x = bn.input(0)) {
    info.input = x->name();
    if (x->producer()) {
      info.producer_op = x->producer()->op_type();
      info.producer_name = x->producer()->name();
    } else {
      info.producer_op = x->has_data() ? "constant" : "graph input";
    }
    info.producer_consumers = x->uses().size();
    info.producer_output_is_graph_output = x->is_graph_output();
  }
  if (const Value* y = bn.output(0))
    for (const Use& u : y->uses()) info.consumer_ops.push_back(u.node->op_type());
  fill_parameters(bn, attrs.epsilon, &info);
  return info;
}

}  // namespace

ModelSummary summarize(const Graph& g) {
  ModelSummary s;
  s.info = g.info;
  for (const Value* v : g.required_inputs()) s.inputs.push_back({v->name(), v->dtype(), v->shape()});
  for (const Value* v : g.outputs()) s.outputs.push_back({v->name(), v->dtype(), v->shape()});
  s.num_nodes = g.num_nodes();
  for (const Node* n : g.nodes()) {
    const std::string key = n->domain().empty() ? n->op_type() : n->domain() + "." + n->op_type();
    ++s.op_counts[key];
  }
  for (const Value* v : g.initializers()) {
    ++s.num_initializers;
    s.parameters += v->data().numel();
    s.parameter_bytes += v->data().nbytes();
  }
  for (const BatchNorm& bn : batchnorms(g)) s.batchnorms.push_back(describe_batchnorm(bn.node()));
  return s;
}

}  // namespace bnfold
