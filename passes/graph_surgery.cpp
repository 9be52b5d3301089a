#include "passes/graph_surgery.hpp"

#include <fmt/format.h>

namespace bnfold {

const Tensor* constant_input(const Node* n, size_t i) {
  const Value* v = n->input(i);
  return v && v->is_constant() ? &v->data() : nullptr;
}

Value* add_new_constant(Graph& g, const std::string& base, Tensor t) { return g.add_constant(g.unique_name(base), std::move(t)); }

std::string base_name(const Node* n, const char* what) {
  return (n->name().empty() ? n->op_type() : n->name()) + "_" + what;
}

// Gives a layer its folded weight (input 1) and bias (input 2) as new
// constants: the old ones may be shared with other nodes.
void install(Graph& g, Node* layer, Tensor weight, Tensor bias) {
  g.set_input(layer, 1, add_new_constant(g, base_name(layer, "weight_folded"), std::move(weight)));
  Value* b = add_new_constant(g, base_name(layer, "bias_folded"), std::move(bias));
  if (layer->inputs().size() > 2) g.set_input(layer, 2, b);
  else g.append_input(layer, b);
}

// A MatMul of 2-D A and constant 2-D B, as the equivalent Gemm (which has a
// bias input to fold into). Returns the Gemm or nullptr with a reason.
Node* matmul_as_gemm(Graph& g, Node* mm, std::string* why) {
  const Value* av = mm->input(0);
  const Tensor* b = constant_input(mm, 1);
  if (!b || b->rank() != 2) {
    *why = fmt::format("B of {} is not a constant 2-D matrix", node_name(*mm));
    return nullptr;
  }
  if (!av->shape().rank_known || av->shape().rank() != 2) {
    *why = fmt::format("A of {} is not 2-D ({}): BN's channel axis 1 is not the MatMul's output axis", node_name(*mm),
                       av->shape().str());
    return nullptr;
  }
  Node* gemm = g.add_node("Gemm", {mm->input(0), mm->input(1)}, {g.unique_name(mm->output(0)->name() + "_gemm")},
                          g.unique_name(mm->name().empty() ? "Gemm" : mm->name() + "_gemm"));
  gemm->output(0)->set_dtype(mm->output(0)->dtype());
  gemm->output(0)->set_shape(mm->output(0)->shape());
  return gemm;
}

void bypass(Graph& g, Value* old_out, Value* result, const std::vector<Node*>& erase) {
  const std::string name = old_out->name();
  g.replace_all_uses(old_out, result);
  for (size_t i = 0; i < g.outputs().size(); ++i)
    if (g.outputs()[i] == old_out) g.replace_output(i, result);
  for (Node* n : erase) g.erase_node(n);
  if (result->name() != name) g.rename_value(result, name);
}

}  // namespace bnfold
