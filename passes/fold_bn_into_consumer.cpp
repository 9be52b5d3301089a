// BatchNormalization folded into the layer that consumes its output.
//
//   x -> BN -> y -> Conv(W, b)      becomes      x -> Conv(W', b')
//   (also Gemm with transA=0, and MatMul of a 2-D input, which becomes a Gemm)
//
// y = x * s + t per input channel c, so W'[.., c, ..] = W[.., c, ..] * s[c]
// and b' = b + sum over c and the kernel of W * t[c]. Exact for an affine map
// before a linear one; for a Conv only without padding: zero padding of x*s+t
// is not x*s+t of zero padding, so a padded Conv keeps the BN (as a
// scale-shift) and the report says so.
//
// Preconditions: (1) as for the producer fold, BN in inference mode with
// constant, valid parameters; (2) y has the consumer as its only use, at input
// 0, and is no graph output; (3) constant float weights; (4) channel counts
// agree; (5) the Conv has no padding.
#include <set>

#include "passes/graph_surgery.hpp"
#include "passes/layer_folds.hpp"
#include "passes/passes.hpp"

namespace bnfold {

namespace {

class FoldBnIntoConsumer : public Pass {
 public:
  const char* name() const override { return "fold-bn-into-consumer"; }

  bool run(Graph& g) override {
    // A fold erases the consumer too; each BN is tried once.
    return rewrite_until_stable(g, [&](Node* bn) { return done_.insert(bn).second && try_fold(g, bn); });
  }

 private:
  std::set<const Node*> done_;  // nodes already tried (a BN that did not fold stays as it was)

  bool try_fold(Graph& g, Node* bn) {
    if (!BatchNorm::is(*bn)) return false;
    Value* y = bn->output(0);
    const std::string key = y->name();
    ChannelAffine a;
    if (!batchnorm_affine(*bn, &a).empty()) return false;  // noted by the producer fold
    if (y->is_graph_output()) {
      note(key, "its output is a graph output");
      return false;
    }
    if (y->uses().size() != 1) {
      note(key, fmt::format("its output has {} consumers", y->uses().size()));
      return false;
    }
    const Use use = y->uses()[0];
    if (use.input_index != 0) {
      note(key, fmt::format("consumer {} reads it as input {}", use.node->op_type(), use.input_index));
      return false;
    }
    Node* target = nullptr;
    if (const std::string why = fold_into_consumer(g, use.node, bn->input(0), a, &target); !why.empty()) {
      note(key, why);
      return false;
    }
    g.erase_node(bn);
    record(key, FoldAction::FoldedForward, target);
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_fold_bn_into_consumer() { return std::make_unique<FoldBnIntoConsumer>(); }

}  // namespace bnfold
