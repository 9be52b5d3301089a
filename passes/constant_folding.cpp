// Constant folding: a node whose inputs are all constants is computed once
// (with the executor's reference kernel) and replaced by its result.
//
//   Constant -> Unsqueeze -> Concat(Constant) -> Reshape.shape
//   becomes  Reshape.shape = <the computed tensor>
//
// Shape of a fully known shape becomes a constant too, and so does Gather of
// a Shape at a dim that is known even when others are symbolic (PyTorch's
// Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains). A folded BN
// weight path (e.g. a Cast or Reshape of a constant) becomes a plain constant
// that the folding passes can use.
//
// Preconditions: (1) every present input is a constant (not an overridable
// input default); (2) the op is deterministic and bnfold has a kernel for it;
// (3) the result is at most 64 MB (a ConstantOfShape must not inflate the file).
#include "passes/passes.hpp"
#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold {

namespace {

constexpr uint64_t kMaxBytes = 64u << 20;

class ConstantFolding : public Pass {
 public:
  const char* name() const override { return "constant-folding"; }

  bool run(Graph& g) override {
    bool changed = false;
    std::vector<std::pair<Value*, std::string>> made;  // constant, the output name it replaced
    for (Node* n : g.topological_order()) {
      if (!n->domain().empty() || n->outputs().empty()) continue;
      std::vector<Tensor> results;
      if (!fold_shape(*n, &results) && !evaluate(*n, &results)) continue;
      for (size_t k = 0; k < n->outputs().size(); ++k) {
        Value* out = n->output(k);
        if (!out) continue;
        Value* c = g.add_constant(g.unique_name(out->name() + "_const"), std::move(results[k]));
        made.emplace_back(c, out->name());
        g.replace_all_uses(out, c);
        for (size_t i = 0; i < g.outputs().size(); ++i)
          if (g.outputs()[i] == out) g.replace_output(i, c);
      }
      g.erase_node(n);
      changed = true;
    }
    // The constants take back the names of the outputs they replaced, so
    // names in the graph (graph outputs above all) stay the same.
    for (auto& [c, name] : made)
      if (g.find_value(c->name()) == c && !g.find_value(name)) g.rename_value(c, name);
    return changed;
  }

 private:
  // Shape / Gather(Shape) with the dims they read known.
  static bool fold_shape(const Node& n, std::vector<Tensor>* out) {
    if (n.op_type() == "Shape" && n.graph_opset() < 15) {
      const Shape& s = n.input(0)->shape();
      if (!s.fully_known()) return false;
      const auto d = s.fixed();
      out->push_back(ops::int64_tensor(d, {static_cast<int64_t>(d.size())}));
      return true;
    }
    if (n.op_type() == "Gather" && n.input(0) && n.input(0)->producer() && n.input(1) && n.input(1)->is_constant()) {
      const Node* shape = n.input(0)->producer();
      if (shape->op_type() != "Shape" || shape->graph_opset() >= 15 || n.attr_int("axis") != 0) return false;
      const Shape& s = shape->input(0)->shape();
      const Tensor& idx = n.input(1)->data();
      if (!s.rank_known || idx.numel() != 1) return false;
      auto i = static_cast<int64_t>(idx.value_at(0));
      if (i < 0) i += static_cast<int64_t>(s.rank());
      if (i < 0 || i >= static_cast<int64_t>(s.rank()) || !s.dims[static_cast<size_t>(i)].known()) return false;
      out->push_back(ops::int64_tensor({s.dims[static_cast<size_t>(i)].value}, idx.dims()));
      return true;
    }
    return false;
  }

  static bool evaluate(const Node& n, std::vector<Tensor>* out) {
    const std::string& op = n.op_type();
    if (op == "RandomNormal" || op == "RandomUniform" || op == "RandomNormalLike" || op == "RandomUniformLike" ||
        op == "Multinomial" || op == "Bernoulli")
      return false;
    std::vector<ops::ArgInfo> args;
    std::vector<const Tensor*> in;
    for (const Value* v : n.inputs()) {
      ops::ArgInfo a;
      if (v) {
        if (!v->is_constant()) return false;
        a.present = true;
        a.dtype = v->data().dtype();
        a.dims = v->data().dims();
        a.value = &v->data();
      }
      in.push_back(a.present ? &v->data() : nullptr);
      args.push_back(std::move(a));
    }
    if (in.empty()) return false;
    const ops::OpEntry* entry = ops::find_op(n);
    if (!entry) return false;
    try {
      auto kernel = entry->kernel(n);
      ops::InferContext ctx(n, std::move(args));
      kernel->infer(ctx);
      std::vector<Tensor*> outs;
      out->resize(n.outputs().size());
      for (size_t k = 0; k < n.outputs().size(); ++k) {
        if (!n.output(k)) {
          outs.push_back(nullptr);
          continue;
        }
        if (!ctx.output_values()[k].empty()) {  // computed by infer() (ConstantOfShape's)
          if (ctx.output_values()[k].nbytes() > kMaxBytes) return false;
          (*out)[k] = ctx.output_values()[k];
          outs.push_back(nullptr);
          continue;
        }
        const Tensor probe = Tensor::borrow(ctx.outputs()[k].dtype, ctx.outputs()[k].dims, nullptr);
        if (probe.nbytes() > kMaxBytes) return false;
        (*out)[k] = Tensor(ctx.outputs()[k].dtype, ctx.outputs()[k].dims);
        outs.push_back(&(*out)[k]);
      }
      kernel->run(in, outs);
    } catch (const Error&) {
      return false;  // not foldable here; the executor will say why if it cannot run it either
    }
    return true;
  }

};

}  // namespace

std::unique_ptr<Pass> make_constant_folding() { return std::make_unique<ConstantFolding>(); }


}  // namespace bnfold
