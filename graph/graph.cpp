#include "bnfold/graph/graph.hpp"

#include <algorithm>
#include <queue>

#include "graph/attr_defaults.hpp"
#include "graph/check.hpp"

namespace bnfold {

// ---------------------------------------------------------------- Node

std::string Node::label() const {
  if (name_.empty()) return fmt::format("node #{} ({})", id_, op_type_);
  return fmt::format("node #{} '{}' ({})", id_, name_, op_type_);
}

std::string node_name(const Node& n) {
  if (!n.name().empty()) return n.name();
  if (n.output(0)) return n.output(0)->name();
  return n.label();
}

int64_t Node::graph_opset() const { return graph_ ? graph_->opset(domain_) : 0; }

std::optional<Attribute> Node::find_attr(const std::string& name) const {
  auto it = attrs_.find(name);
  if (it != attrs_.end()) return it->second;
  return onnx_attr_default(op_type_, domain_, graph_opset(), name);
}

const Attribute& Node::typed(const std::string& name, AttrKind kind, Attribute& storage) const {
  auto it = attrs_.find(name);
  const Attribute* a = nullptr;
  if (it != attrs_.end()) {
    a = &it->second;
  } else {
    auto def = find_attr(name);
    BNFOLD_CHECK(def.has_value(), ErrorCode::InvalidModel,
                 "{}: attribute '{}' is missing and has no default", label(), name);
    storage = std::move(*def);
    a = &storage;
  }
  BNFOLD_CHECK(a->kind == kind, ErrorCode::InvalidModel, "{}: attribute '{}' is {}, expected {}",
               label(), name, attr_kind_name(a->kind), attr_kind_name(kind));
  return *a;
}

int64_t Node::attr_int(const std::string& name) const {
  Attribute s;
  return typed(name, AttrKind::Int, s).i;
}
float Node::attr_float(const std::string& name) const {
  Attribute s;
  return typed(name, AttrKind::Float, s).f;
}
std::string Node::attr_string(const std::string& name) const {
  Attribute s;
  return typed(name, AttrKind::String, s).s;
}
std::vector<int64_t> Node::attr_ints(const std::string& name) const {
  Attribute s;
  return typed(name, AttrKind::Ints, s).ints;
}
std::vector<float> Node::attr_floats(const std::string& name) const {
  Attribute s;
  return typed(name, AttrKind::Floats, s).floats;
}

// ---------------------------------------------------------------- Graph

Graph::Graph() = default;
Graph::~Graph() = default;

int64_t Graph::opset(const std::string& domain) const {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  auto it = info.opsets.find(d);
  return it == info.opsets.end() ? 0 : it->second;
}

Value* Graph::find_value(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

Value& Graph::value(const std::string& name) const {
  Value* v = find_value(name);
  BNFOLD_CHECK(v != nullptr, ErrorCode::InvalidArgument, "no value named '{}' in the graph", name);
  return *v;
}

std::vector<Value*> Graph::required_inputs() const {
  std::vector<Value*> out;
  for (Value* v : inputs_)
    if (!v->has_data()) out.push_back(v);
  return out;
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

std::vector<Value*> Graph::initializers() const {
  std::vector<Value*> out;
  for (const auto& v : values_)
    if (v->has_data()) out.push_back(v.get());
  return out;
}

std::vector<Value*> Graph::all_values() const {
  std::vector<Value*> out;
  for (const auto& v : values_) out.push_back(v.get());
  return out;
}

std::string Graph::unique_name(const std::string& base) const {
  auto taken = [this](const std::string& n) {
    if (by_name_.count(n)) return true;
    for (const auto& node : nodes_)
      if (node->name_ == n) return true;
    return false;
  };
  if (!base.empty() && !taken(base)) return base;
  for (size_t k = 1;; ++k) {
    std::string n = fmt::format("{}_{}", base.empty() ? "v" : base, k);
    if (!taken(n)) return n;
  }
}

Value* Graph::new_value(const std::string& name) {
  BNFOLD_CHECK(!name.empty(), ErrorCode::Internal, "a value needs a name");
  BNFOLD_CHECK(!by_name_.count(name), ErrorCode::InvalidModel, "value name '{}' is defined twice",
               name);
  values_.push_back(std::make_unique<Value>());
  Value* v = values_.back().get();
  v->name_ = name;
  by_name_[name] = v;
  return v;
}

void Graph::drop_value(Value* v) {
  by_name_.erase(v->name_);
  auto it = std::find_if(values_.begin(), values_.end(), [v](const auto& p) { return p.get() == v; });
  if (it != values_.end()) values_.erase(it);
}

Value* Graph::add_input(const std::string& name, DType dtype, Shape shape) {
  Value* v = new_value(name);
  v->dtype_ = dtype;
  v->shape_ = std::move(shape);
  v->graph_input_ = true;
  inputs_.push_back(v);
  return v;
}

Value* Graph::add_constant(const std::string& name, Tensor data) {
  BNFOLD_CHECK(!data.empty(), ErrorCode::Internal, "constant '{}' without data", name);
  Value* v = new_value(name);
  v->dtype_ = data.dtype();
  v->shape_ = Shape::of(data.dims());
  v->data_ = std::move(data);
  return v;
}

void Graph::set_input_default(Value* input, Tensor data, bool overridable) {
  BNFOLD_CHECK(input->graph_input_, ErrorCode::Internal, "'{}' is not a graph input", input->name_);
  input->dtype_ = data.dtype();
  input->shape_ = Shape::of(data.dims());
  input->data_ = std::move(data);
  input->overridable_ = overridable;
}

void Graph::set_constant_data(Value* v, Tensor data) {
  BNFOLD_CHECK(v->is_constant() && !v->graph_input_, ErrorCode::Internal,
               "'{}' is not a plain constant", v->name_);
  v->dtype_ = data.dtype();
  v->shape_ = Shape::of(data.dims());
  v->data_ = std::move(data);
}

void Graph::add_output(Value* v) {
  v->graph_output_ = true;
  outputs_.push_back(v);
}

void Graph::replace_output(size_t index, Value* v) {
  BNFOLD_CHECK(index < outputs_.size(), ErrorCode::Internal, "no graph output #{}", index);
  Value* old = outputs_[index];
  outputs_[index] = v;
  old->graph_output_ = std::count(outputs_.begin(), outputs_.end(), old) > 0;
  v->graph_output_ = true;
}

Node* Graph::add_node(const std::string& op_type, const std::vector<Value*>& inputs,
                      const std::vector<std::string>& output_names, const std::string& name,
                      const std::string& domain) {
  for (const std::string& out : output_names) {
    if (out.empty()) continue;
    if (Value* existing = find_value(out)) {
      std::string who = existing->producer_ ? existing->producer_->label()
                        : existing->graph_input_ ? "a graph input"
                                                 : "an initializer";
      failf(ErrorCode::InvalidModel, "node #{} '{}' ({}): output '{}' is already produced by {}",
            next_node_id_, name, op_type, out, who);
    }
  }
  nodes_.push_back(std::make_unique<Node>());
  Node* n = nodes_.back().get();
  n->graph_ = this;
  n->id_ = next_node_id_++;
  n->name_ = name;
  n->op_type_ = op_type;
  n->domain_ = domain == "ai.onnx" ? "" : domain;
  for (Value* in : inputs) append_input(n, in);
  for (size_t k = 0; k < output_names.size(); ++k) {
    if (output_names[k].empty()) {
      n->outputs_.push_back(nullptr);
      continue;
    }
    Value* v = new_value(output_names[k]);
    v->producer_ = n;
    v->producer_output_ = k;
    n->outputs_.push_back(v);
  }
  return n;
}

void Graph::append_input(Node* node, Value* v) {
  node->inputs_.push_back(nullptr);
  set_input(node, node->inputs_.size() - 1, v);
}

void Graph::set_input(Node* node, size_t index, Value* v) {
  BNFOLD_CHECK(index < node->inputs_.size(), ErrorCode::Internal, "{} has no input #{}",
               node->label(), index);
  if (Value* old = node->inputs_[index]) {
    auto& u = old->uses_;
    u.erase(std::find(u.begin(), u.end(), Use{node, index}));
  }
  node->inputs_[index] = v;
  if (v) v->uses_.push_back(Use{node, index});
}

void Graph::replace_all_uses(Value* from, Value* to) {
  if (from == to) return;
  const std::vector<Use> uses = from->uses_;
  for (const Use& u : uses) set_input(u.node, u.input_index, to);
}

void Graph::erase_node(Node* node) {
  for (Value* out : node->outputs_) {
    if (!out) continue;
    BNFOLD_CHECK(out->uses_.empty() && !out->graph_output_, ErrorCode::Internal,
                 "cannot erase {}: its output '{}' is still used", node->label(), out->name_);
  }
  for (size_t k = 0; k < node->inputs_.size(); ++k) set_input(node, k, nullptr);
  for (Value* out : node->outputs_)
    if (out) drop_value(out);
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [node](const auto& p) { return p.get() == node; });
  nodes_.erase(it);
}

void Graph::rename_value(Value* v, const std::string& new_name) {
  if (v->name_ == new_name) return;
  BNFOLD_CHECK(!by_name_.count(new_name), ErrorCode::Internal, "cannot rename '{}': '{}' is taken",
               v->name_, new_name);
  by_name_.erase(v->name_);
  v->name_ = new_name;
  by_name_[new_name] = v;
}

size_t Graph::remove_unused_values() {
  std::vector<Value*> dead;
  for (const auto& v : values_)
    if (v->uses_.empty() && !v->producer_ && !v->graph_input_ && !v->graph_output_)
      dead.push_back(v.get());
  for (Value* v : dead) drop_value(v);
  return dead.size();
}

std::vector<Node*> Graph::topological_order() const {
  std::unordered_map<const Node*, size_t> pending;  // unresolved producer edges
  std::unordered_map<const Node*, size_t> position;
  for (size_t k = 0; k < nodes_.size(); ++k) {
    const Node* n = nodes_[k].get();
    position[n] = k;
    size_t count = 0;
    for (Value* in : n->inputs_)
      if (in && in->producer_) ++count;
    pending[n] = count;
  }
  // Min-heap on insertion position keeps the order stable.
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t k = 0; k < nodes_.size(); ++k)
    if (pending[nodes_[k].get()] == 0) ready.push(k);
  std::vector<Node*> order;
  order.reserve(nodes_.size());
  while (!ready.empty()) {
    Node* n = nodes_[ready.top()].get();
    ready.pop();
    order.push_back(n);
    for (Value* out : n->outputs_) {
      if (!out) continue;
      for (const Use& u : out->uses_)
        if (--pending[u.node] == 0) ready.push(position[u.node]);
    }
  }
  if (order.size() != nodes_.size()) {
    std::string names;
    size_t listed = 0;
    for (const auto& n : nodes_) {
      if (pending[n.get()] == 0 || listed == 4) continue;
      names += (listed++ ? ", " : "") + n->label();
    }
    failf(ErrorCode::InvalidModel, "the graph has a cycle: {} (and any nodes after them) wait on each other", names);
  }
  return order;
}

}  // namespace bnfold
