// What BatchNormalization remains becomes one precomputed per-channel
// scale-and-shift.
//
//   x -> BN(gamma, beta, mean, var) -> y
//   becomes  x -> Mul(s) -> Add(t) -> y      s, t shaped [C, 1, ...]
//
// s = gamma / sqrt(var + eps), t = beta - mean * s: no sqrt per run, plain
// ONNX that any runtime executes, and bnfold's executor runs the Mul+Add as
// one oneDNN step (or as post-ops of the producer).
//
// Preconditions: (1) BN in inference mode with constant, valid parameters
// (training-mode BNs stay BNs); (2) x's rank is known.
#include "passes/affine.hpp"
#include "passes/graph_surgery.hpp"
#include "passes/passes.hpp"

namespace bnfold {

namespace {

class BnToScaleShift : public Pass {
 public:
  const char* name() const override { return "bn-to-scale-shift"; }

  bool run(Graph& g) override {
    bool changed = false;
    for (Node* bn : batchnorm_nodes(g)) {
      Value* x = bn->input(0);
      Value* y = bn->output(0);
      ChannelAffine a;
      if (!batchnorm_affine(*bn, &a).empty()) continue;
      if (!x->shape().rank_known || x->shape().rank() < 2) {
        note(y->name(), "the rank of its input is unknown");
        continue;
      }
      const DType dtype = bn->input(1)->data().dtype();
      std::vector<int64_t> dims(x->shape().rank() - 1, 1);
      dims[0] = static_cast<int64_t>(a.channels());
      // The constants in BN's dtype, checked like folded weights: a float16
      // shift of -mean * s can overflow where BN itself computes finitely.
      Tensor sc, tc;
      auto channel = [](size_t i) { return static_cast<int64_t>(i); };
      std::string why = store_weights(dtype, dims, a.scale, &sc, channel);
      if (why.empty()) why = store_weights(dtype, dims, a.shift, &tc, channel);
      if (!why.empty()) {
        const std::string weights = "the folded weights";
        if (why.compare(0, weights.size(), weights) == 0) why.replace(0, weights.size(), "its scale-shift constants");
        note(y->name(), why);
        continue;
      }
      const std::string base = bn->name().empty() ? y->name() : bn->name();
      Value* sv = g.add_constant(g.unique_name(base + "_scale"), std::move(sc));
      Value* tv = g.add_constant(g.unique_name(base + "_shift"), std::move(tc));
      Node* mul = g.add_node("Mul", {x, sv}, {g.unique_name(y->name() + "_scaled")}, g.unique_name(base + "_mul"));
      Node* add = g.add_node("Add", {mul->output(0), tv}, {g.unique_name(y->name() + "_shifted")},
                             g.unique_name(base + "_add"));
      for (Value* v : {mul->output(0), add->output(0)}) {
        v->set_dtype(y->dtype());
        v->set_shape(y->shape());
      }
      const std::string key = y->name();
      bypass(g, y, add->output(0), {bn});
      record(key, FoldAction::ScaleShift);
      changed = true;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_bn_to_scale_shift() { return std::make_unique<BnToScaleShift>(); }

}  // namespace bnfold
