// MatMul + Add -> Gemm, where exact.
//
//   A[M,K] -> MatMul(B[K,N] const) -> Add(C const, [N] or [1,N]) -> y
//   becomes  A -> Gemm(B, C) -> y
//
// Preconditions: (1) A is known to be 2-D (Gemm is 2-D only); (2) B is a
// constant 2-D matrix; (3) the MatMul's output has the Add as its only
// consumer and is no graph output; (4) the Add's other operand is a constant
// row vector. Linear layers export this way; Gemm's bias is what a following
// BatchNormalization folds into.
#include "passes/affine.hpp"
#include "passes/graph_surgery.hpp"
#include "passes/passes.hpp"

namespace bnfold {

namespace {

class MatMulAddToGemm : public Pass {
 public:
  const char* name() const override { return "matmul-add-to-gemm"; }

  bool run(Graph& g) override {
    return rewrite_until_stable(g, [&](Node* n) { return rewrite(g, n); });  // erases the Add too
  }

 private:
  bool rewrite(Graph& g, Node* mm) {
    {
      if (mm->op_type() != "MatMul" || !mm->domain().empty()) return false;
      Value* a = mm->input(0);
      Value* b = mm->input(1);
      Value* out = mm->output(0);
      if (!a || !b || !out || !b->is_constant() || b->data().rank() != 2) return false;
      if (!a->shape().rank_known || a->shape().rank() != 2) return false;
      if (out->uses().size() != 1 || out->is_graph_output()) return false;
      Node* add = out->uses()[0].node;
      if (add->op_type() != "Add" || add->inputs().size() != 2) return false;
      Value* c = add->input(0) == out ? add->input(1) : add->input(0);
      if (!c || c == out || !c->is_constant()) return false;
      const auto& cd = c->data().dims();
      const int64_t n = b->data().dims()[1];
      const bool row = (cd.size() == 1 && cd[0] == n) || (cd.size() == 2 && cd[0] == 1 && cd[1] == n);
      if (!row) return false;
      Node* gemm = g.add_node("Gemm", {a, b, c}, {g.unique_name(add->output(0)->name() + "_gemm")},
                              g.unique_name(mm->name().empty() ? "Gemm" : mm->name()));
      gemm->output(0)->set_dtype(add->output(0)->dtype());
      gemm->output(0)->set_shape(add->output(0)->shape());
      bypass(g, add->output(0), gemm->output(0), {add, mm});
      return true;
    }
  }
};

}  // namespace

std::unique_ptr<Pass> make_matmul_add_to_gemm() { return std::make_unique<MatMulAddToGemm>(); }

}  // namespace bnfold
