// Graph::verify(): every invariant of the IR, checked from both sides of each
// edge so that a pass which edits edges by hand is caught.
#include <algorithm>
#include <unordered_set>

#include "graph/check.hpp"
#include "bnfold/graph/graph.hpp"

namespace bnfold {

void Graph::verify() const {
  std::unordered_set<const Node*> node_set;
  for (const auto& n : nodes_) node_set.insert(n.get());

  for (const auto& n : nodes_) {
    for (size_t i = 0; i < n->inputs_.size(); ++i) {
      const Value* in = n->inputs_[i];
      if (!in) continue;
      BNFOLD_CHECK(find_value(in->name_) == in, ErrorCode::Internal,
                   "{}: input {} '{}' does not belong to this graph", n->label(), i, in->name_);
      const auto count = std::count(in->uses_.begin(), in->uses_.end(), Use{n.get(), i});
      BNFOLD_CHECK(count == 1, ErrorCode::Internal,
                   "{}: input {} '{}' is recorded {} times among its uses", n->label(), i,
                   in->name_, count);
      BNFOLD_CHECK(in->producer_ || in->has_data() || in->graph_input_, ErrorCode::InvalidModel,
                   "{}: input {} '{}' is not produced by any node, initializer or graph input",
                   n->label(), i, in->name_);
    }
    for (size_t k = 0; k < n->outputs_.size(); ++k) {
      const Value* out = n->outputs_[k];
      if (!out) continue;
      BNFOLD_CHECK(out->producer_ == n.get() && out->producer_output_ == k, ErrorCode::Internal,
                   "{}: output {} '{}' names another producer", n->label(), k, out->name_);
    }
  }

  for (const auto& v : values_) {
    BNFOLD_CHECK(find_value(v->name_) == v.get(), ErrorCode::Internal,
                 "value '{}' is missing from the name index", v->name_);
    for (const Use& u : v->uses_) {
      BNFOLD_CHECK(node_set.count(u.node) && u.input_index < u.node->inputs_.size() &&
                       u.node->inputs_[u.input_index] == v.get(),
                   ErrorCode::Internal, "value '{}' lists a use that the consumer does not have",
                   v->name_);
    }
    if (v->producer_) {
      BNFOLD_CHECK(node_set.count(v->producer_), ErrorCode::Internal,
                   "value '{}' is produced by a node not in the graph", v->name_);
      BNFOLD_CHECK(!v->has_data() && !v->graph_input_, ErrorCode::InvalidModel,
                   "value '{}' is produced by {} and is also an {}", v->name_,
                   v->producer_->label(), v->graph_input_ ? "graph input" : "initializer");
    }
    if (v->has_data()) {
      BNFOLD_CHECK(v->dtype_ == v->data_.dtype(), ErrorCode::Internal,
                   "constant '{}' is typed {} but holds {}", v->name_, dtype_name(v->dtype_),
                   dtype_name(v->data_.dtype()));
      BNFOLD_CHECK(v->shape_ == Shape::of(v->data_.dims()), ErrorCode::Internal,
                   "constant '{}' has shape {} but holds {}", v->name_, v->shape_.str(),
                   v->data_.describe());
    }
    if (v->graph_output_) {
      BNFOLD_CHECK(std::count(outputs_.begin(), outputs_.end(), v.get()) > 0, ErrorCode::Internal,
                   "value '{}' is flagged as a graph output but is not listed", v->name_);
    }
  }

  for (const Value* out : outputs_) {
    BNFOLD_CHECK(find_value(out->name_) == out, ErrorCode::Internal,
                 "graph output '{}' does not belong to this graph", out->name_);
    BNFOLD_CHECK(out->producer_ || out->has_data() || out->graph_input_, ErrorCode::InvalidModel,
                 "graph output '{}' is not produced by any node, initializer or graph input",
                 out->name_);
  }
  for (const Value* in : inputs_) {
    BNFOLD_CHECK(in->graph_input_ && find_value(in->name_) == in, ErrorCode::Internal,
                 "graph input '{}' is inconsistent", in->name_);
  }
  topological_order();  // throws on a cycle
}

}  // namespace bnfold
