// Constant per-channel Mul / Add / Sub / Div after a layer, folded into it.
//
//   x -> Conv(W, b) -> Mul(m[C,1,1]) -> Add(a[C,1,1]) -> y
//   becomes  x -> Conv(W * m, b * m + a) -> y    (also ConvTranspose, Gemm, MatMul)
//
// Exporters decompose BatchNormalization this way, and bn-to-scale-shift
// writes what it could not fold as such a pair; each step is the affine fold
// of fold-bn-into-producer with scale m (shift 0) or shift a (scale 1).
// Repeats until no Mul/Add next to a layer is left.
//
// Preconditions: (1) the other operand is a constant that broadcasts only
// along the channel axis (or a scalar); (2) the layer's output has the Mul/Add
// as its only consumer and is no graph output; (3) the fold preconditions of
// the layer (constant float weights, channel counts, no float16 overflow).
#include "passes/graph_surgery.hpp"
#include "passes/layer_folds.hpp"
#include "passes/passes.hpp"

namespace bnfold {

namespace {

class FoldAffineIntoProducer : public Pass {
 public:
  const char* name() const override { return "fold-affine-into-producer"; }

  bool run(Graph& g) override {
    return rewrite_until_stable(g, [&](Node* n) { return try_fold(g, n); });
  }

 private:
  bool try_fold(Graph& g, Node* n) {
    const std::string& op = n->op_type();
    if (!n->domain().empty() || n->inputs().size() != 2 || !n->output(0)) return false;
    if (op != "Mul" && op != "Add" && op != "Sub" && op != "Div") return false;
    for (size_t i = 0; i < 2; ++i) {
      Value* x = n->input(i);
      Value* c = n->input(1 - i);
      if (!x || !c || !c->is_constant() || !is_foldable_layer(x->producer())) continue;
      if ((op == "Sub" || op == "Div") && i != 0) continue;  // c - x, c / x are not affine in x per channel
      if (x->uses().size() != 1 || x->is_graph_output()) continue;
      const Shape& s = x->shape();
      if (!s.rank_known || s.rank() < 2 || !s.dims[1].known()) continue;
      std::vector<double> v;
      if (!channel_vector(c->data(), s.rank(), s.dims[1].value, &v)) continue;
      // The constant must not broadcast x to a bigger shape.
      if (c->data().rank() > s.rank()) continue;
      ChannelAffine a;
      a.scale.assign(v.size(), 1.0);
      a.shift.assign(v.size(), 0.0);
      for (size_t k = 0; k < v.size(); ++k) {
        if (op == "Mul") a.scale[k] = v[k];
        if (op == "Div") a.scale[k] = 1.0 / v[k];
        if (op == "Add") a.shift[k] = v[k];
        if (op == "Sub") a.shift[k] = -v[k];
      }
      Value* result = nullptr;
      if (!fold_into_producer(g, x->producer(), a, &result).empty()) continue;
      bypass(g, n->output(0), result, {n});
      return true;
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<Pass> make_fold_affine_into_producer() { return std::make_unique<FoldAffineIntoProducer>(); }

}  // namespace bnfold
