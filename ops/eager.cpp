#include "ops/eager.hpp"

#include <memory>
#include <unordered_map>

#include "ops/op_table.hpp"

namespace bnfold::ops {

std::vector<Tensor> run_node(const Node& node, const std::vector<const Tensor*>& inputs) {
  const OpEntry* entry = find_op(node);
  BNFOLD_CHECK(entry != nullptr, ErrorCode::Unsupported, "{}: {}", node.label(), why_unsupported(node));
  std::unique_ptr<OpKernel> kernel = entry->kernel(node);
  std::vector<ArgInfo> args;
  std::vector<const Tensor*> in;
  for (size_t i = 0; i < node.inputs().size(); ++i) {
    ArgInfo a;
    const Tensor* t = node.input(i) && i < inputs.size() ? inputs[i] : nullptr;
    if (t) {
      a.present = true;
      a.dtype = t->dtype();
      a.dims = t->dims();
      a.value = t;
    }
    in.push_back(t);
    args.push_back(std::move(a));
  }
  InferContext ctx(node, std::move(args));
  kernel->infer(ctx);
  std::vector<Tensor> out(node.outputs().size());
  bool known = true;  // as the plan builder: run() computes all outputs unless infer() gave every one
  for (size_t k = 0; k < out.size(); ++k)
    if (node.output(k) && ctx.output_values()[k].empty()) known = false;
  if (known) {
    for (size_t k = 0; k < out.size(); ++k)
      if (node.output(k)) out[k] = std::move(ctx.output_values()[k]);
    return out;
  }
  std::vector<Tensor*> pout;
  for (size_t k = 0; k < out.size(); ++k) {
    if (!node.output(k)) {
      pout.push_back(nullptr);
      continue;
    }
    out[k] = Tensor(ctx.outputs()[k].dtype, ctx.outputs()[k].dims);
    pout.push_back(&out[k]);
  }
  kernel->run(in, pout);
  return out;
}

std::vector<Tensor> run_graph(const Graph& g, const std::vector<const Tensor*>& inputs) {
  BNFOLD_CHECK(inputs.size() == g.inputs().size(), ErrorCode::Internal, "graph '{}' takes {} inputs, given {}",
               g.info.graph_name, g.inputs().size(), inputs.size());
  std::unordered_map<const Value*, const Tensor*> at;
  std::vector<std::unique_ptr<Tensor>> held;  // stable addresses
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* v = g.inputs()[i];
    const Tensor* t = inputs[i] ? inputs[i] : v->has_data() ? &v->data() : nullptr;
    BNFOLD_CHECK(t != nullptr, ErrorCode::InvalidArgument, "graph '{}': no value for input '{}'",
                 g.info.graph_name, v->name());
    at[v] = t;
  }
  const auto get = [&](const Value* v) -> const Tensor* {
    if (!v) return nullptr;
    if (auto it = at.find(v); it != at.end()) return it->second;
    BNFOLD_CHECK(v->has_data(), ErrorCode::Internal, "graph '{}': value '{}' has no source", g.info.graph_name,
                 v->name());
    return &v->data();
  };
  for (const Node* n : g.topological_order()) {
    std::vector<const Tensor*> in;
    for (const Value* v : n->inputs()) in.push_back(get(v));
    std::vector<Tensor> out = run_node(*n, in);
    for (size_t k = 0; k < out.size(); ++k) {
      if (!n->output(k)) continue;
      held.push_back(std::make_unique<Tensor>(std::move(out[k])));
      at[n->output(k)] = held.back().get();
    }
  }
  std::vector<Tensor> results;
  for (const Value* v : g.outputs()) results.push_back(get(v)->clone());
  return results;
}

}  // namespace bnfold::ops
