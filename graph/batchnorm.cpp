#include "graph/batchnorm.hpp"

#include "graph/check.hpp"

namespace bnfold {

BatchNormAttrs batchnorm_attrs(const Node& bn) {
  BNFOLD_CHECK(bn.op_type() == "BatchNormalization", ErrorCode::Internal,
               "{} is not a BatchNormalization", bn.label());
  BatchNormAttrs a;
  a.epsilon = bn.attr_float("epsilon");
  a.momentum = bn.attr_float("momentum");
  a.optional_outputs_used = false;
  for (size_t k = 1; k < bn.outputs().size(); ++k) {
    const Value* out = bn.output(k);
    if (out && (!out->uses().empty() || out->is_graph_output())) a.optional_outputs_used = true;
  }
  if (auto spatial = bn.find_attr("spatial"); spatial && spatial->kind == AttrKind::Int)
    a.spatial = spatial->i != 0;

  const int64_t opset = bn.graph_opset();
  if (opset < 7) {
    // BatchNormalization-1/-6: is_test defaults to 0, i.e. training.
    auto is_test = bn.find_attr("is_test");
    if (!is_test || is_test->i == 0) {
      a.training = true;
      a.training_why = is_test && bn.has_attr("is_test") ? "is_test=0" : "is_test absent (defaults to 0)";
    }
  } else if (opset < 14) {
    // 7-13 have no mode attribute: asking for the running statistics is training.
    if (bn.outputs().size() > 1 && a.optional_outputs_used) {
      a.training = true;
      a.training_why = "mean/var outputs in use";
    }
  } else if (bn.attr_int("training_mode") != 0) {
    a.training = true;
    a.training_why = "training_mode=1";
  }
  return a;
}

}  // namespace bnfold
