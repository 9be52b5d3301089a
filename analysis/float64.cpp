#include "bnfold/analysis/float64.hpp"

#include "bnfold/graph/onnx_io.hpp"
#include "ops/op_util.hpp"

namespace bnfold {

namespace {

bool narrow_float(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

Tensor widened(const Tensor& t) { return narrow_float(t.dtype()) ? ops::to_float64(t) : t; }

}  // namespace

std::shared_ptr<Graph> as_float64(const Graph& g) {
  std::shared_ptr<Graph> d(clone_graph(g));
  for (Value* v : d->all_values()) {
    if (!narrow_float(v->dtype())) continue;
    v->set_dtype(DType::Float64);
    if (!v->has_data()) continue;
    if (v->is_graph_input()) d->set_input_default(v, widened(v->data()), v->is_overridable());
    else d->set_constant_data(v, widened(v->data()));
  }
  for (Node* n : d->nodes()) {
    if (!n->domain().empty()) continue;
    if (n->op_type() == "Cast" && n->has_attr("to") &&
        narrow_float(static_cast<DType>(n->attr_int("to"))))
      n->set_attr("to", Attribute::of_int(static_cast<int64_t>(DType::Float64)));
    if (n->op_type() == "ConstantOfShape" && n->has_attr("value")) {
      Attribute a = n->attrs().at("value");
      a.t = widened(a.t);
      n->set_attr("value", a);
    }
  }
  return d;
}

std::map<std::string, Tensor> as_float64(const std::map<std::string, Tensor>& tensors) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, t] : tensors) out.emplace(k, widened(t));
  return out;
}

}  // namespace bnfold
