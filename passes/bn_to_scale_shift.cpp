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
#include "ops/ops.hpp"
#include "passes/passes.hpp"

namespace bnfold {

namespace {

class BnToScaleShift : public Pass {
 public:
  const char* name() const override { return "bn-to-scale-shift"; }

  bool run(Graph& g) override {
    bool changed = false;
    for (Node* bn : batchnorms(g)) {
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
      Tensor s(DType::Float64, dims), t(DType::Float64, dims);
      for (size_t c = 0; c < a.channels(); ++c) {
        s.mutable_data_as<double>()[c] = a.scale[c];
        t.mutable_data_as<double>()[c] = a.shift[c];
      }
      Tensor sc(dtype, dims), tc(dtype, dims);
      ops::cast_into(s, &sc);
      ops::cast_into(t, &tc);
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
