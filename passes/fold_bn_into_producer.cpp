// BatchNormalization folded into the layer that produces its input.
//
//   x -> Conv(W, b) -> BN(gamma, beta, mean, var) -> y
//   becomes  x -> Conv(W', b') -> y        (also ConvTranspose, Gemm, MatMul)
//
// s = gamma / sqrt(var + eps); W' = W * s along the output-channel axis
// (axis 0 for Conv; axis 1 within each group for ConvTranspose's
// [C_in, C_out/g, k...]; rows or columns of B for Gemm by transB; columns of B
// for MatMul, which becomes a Gemm); b' = (b - mean) * s + beta. In double,
// stored in the weight's dtype.
//
// Preconditions: (1) BN is in inference mode with constant parameters, var +
// eps > 0 and finite values in every channel; (2) the producer's output has BN
// as its only consumer and is no graph output; (3) the weights (and bias) are
// constant floats; (4) channel counts agree; (5) float16 weights do not
// overflow. New constants are made; shared weights stay untouched. BN's output
// name is kept.
#include "passes/graph_surgery.hpp"
#include "passes/layer_folds.hpp"
#include "passes/passes.hpp"

namespace bnfold {

namespace {

class FoldBnIntoProducer : public Pass {
 public:
  const char* name() const override { return "fold-bn-into-producer"; }

  bool run(Graph& g) override {
    bool changed = false;
    for (Node* bn : batchnorm_nodes(g)) {
      const std::string key = bn->output(0)->name();
      ChannelAffine a;
      if (const std::string why = batchnorm_affine(*bn, &a); !why.empty()) {
        note(key, why);
        continue;
      }
      Value* x = bn->input(0);
      Node* producer = x->producer();
      if (!producer) {
        note(key, x->is_graph_input() ? "its input is a graph input" : "its input is a constant");
        continue;
      }
      if (x->uses().size() != 1) {
        note(key, fmt::format("producer output has {} consumers", x->uses().size()));
        continue;
      }
      if (x->is_graph_output()) {
        note(key, "producer output is a graph output");
        continue;
      }
      Value* result = nullptr;
      if (const std::string why = fold_into_producer(g, producer, a, &result); !why.empty()) {
        note(key, why);
        continue;
      }
      bypass(g, bn->output(0), result, {bn});
      record(key, FoldAction::Folded, result->producer());
      changed = true;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_fold_bn_into_producer() { return std::make_unique<FoldBnIntoProducer>(); }

}  // namespace bnfold
