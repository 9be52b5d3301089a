// bnfold's graph IR. A Graph owns its Nodes and Values. A Value is one tensor:
// name, dtype, shape, at most one source (a producer node's output, constant
// data, or a graph input) and its consumers. Edges are stored once, in the
// Value's producer/uses and the Node's input/output lists, and only Graph
// methods change them, so the two sides cannot disagree.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bnfold/graph/attribute.hpp"
#include "bnfold/graph/dtype.hpp"
#include "bnfold/graph/shape.hpp"
#include "bnfold/graph/tensor.hpp"

namespace bnfold BNFOLD_API {

class Graph;
class Node;

struct Use {
  Node* node;
  size_t input_index;
  bool operator==(const Use& o) const { return node == o.node && input_index == o.input_index; }
};

class Value {
 public:
  const std::string& name() const { return name_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  void set_dtype(DType t) { dtype_ = t; }
  void set_shape(Shape s) { shape_ = std::move(s); }

  Node* producer() const { return producer_; }
  size_t producer_output() const { return producer_output_; }
  const std::vector<Use>& uses() const { return uses_; }

  // Initializer data. A constant is data the caller cannot override; an
  // initializer that is also a graph input (IR >= 4) is an overridable default.
  bool has_data() const { return !data_.empty(); }
  const Tensor& data() const { return data_; }
  bool is_constant() const { return has_data() && !overridable_; }
  bool is_overridable() const { return has_data() && overridable_; }
  bool is_graph_input() const { return graph_input_; }
  bool is_graph_output() const { return graph_output_; }

  std::string doc_string;

 private:
  friend class Graph;
  std::string name_;
  DType dtype_ = DType::Undefined;
  Shape shape_;
  Node* producer_ = nullptr;
  size_t producer_output_ = 0;
  std::vector<Use> uses_;
  Tensor data_;
  bool overridable_ = false;
  bool graph_input_ = false;
  bool graph_output_ = false;
};

class Node {
 public:
  const std::string& name() const { return name_; }
  const std::string& op_type() const { return op_type_; }
  const std::string& domain() const { return domain_; }  // "" is ai.onnx
  // Position in the source model (or creation order); used in messages.
  size_t id() const { return id_; }
  // "node #3 'conv1' (Conv)"
  std::string label() const;
  // The opset version of this node's domain in its graph (0 when detached).
  int64_t graph_opset() const;

  // Omitted optional inputs/outputs are nullptr.
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }

  const std::map<std::string, Attribute>& attrs() const { return attrs_; }
  bool has_attr(const std::string& name) const { return attrs_.count(name) != 0; }
  void set_attr(const std::string& name, Attribute a) { attrs_[name] = std::move(a); }
  void remove_attr(const std::string& name) { attrs_.erase(name); }

  // Typed access. A missing attribute takes ONNX's default for this op at the
  // graph's opset (from ONNX's operator schemas, the one place defaults live);
  // with neither, or with an attribute of another kind, these throw
  // bnfold::Error naming the node.
  int64_t attr_int(const std::string& name) const;
  float attr_float(const std::string& name) const;
  std::string attr_string(const std::string& name) const;
  std::vector<int64_t> attr_ints(const std::string& name) const;
  std::vector<float> attr_floats(const std::string& name) const;
  // The attribute as written or its schema default; nullopt when neither.
  std::optional<Attribute> find_attr(const std::string& name) const;

  std::string doc_string;

 private:
  friend class Graph;
  const Attribute& typed(const std::string& name, AttrKind kind, Attribute& storage) const;

  Graph* graph_ = nullptr;
  size_t id_ = 0;
  std::string name_, op_type_, domain_;
  std::vector<Value*> inputs_, outputs_;
  std::map<std::string, Attribute> attrs_;
};

// The name reports, statistics and folds use for a node: its own name, or,
// when the model leaves it unnamed, the name of its first output (stable
// across export and import, unlike the node's position); else its label.
std::string node_name(const Node& n);

// What an ONNX model says about itself besides the graph.
struct ModelInfo {
  int64_t ir_version = 8;
  std::string producer_name, producer_version, domain, doc_string;
  int64_t model_version = 0;
  std::string graph_name, graph_doc_string;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
  // Things the importer noticed but could work around (not exported).
  std::vector<std::string> warnings;
};

class Graph {
 public:
  Graph();
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  ModelInfo info;
  // Opset version of a domain ("" and "ai.onnx" are the same); 0 when absent.
  int64_t opset(const std::string& domain = "") const;

  // --- lookup
  Value* find_value(const std::string& name) const;
  Value& value(const std::string& name) const;  // throws when absent
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  // Graph inputs the caller must feed (no initializer behind them).
  std::vector<Value*> required_inputs() const;
  // Nodes in insertion order; topological_order() for execution order.
  std::vector<Node*> nodes() const;
  size_t num_nodes() const { return nodes_.size(); }
  // Every value with data, in insertion order.
  std::vector<Value*> initializers() const;
  std::vector<Value*> all_values() const;

  // --- building and editing
  // A fresh name starting with base that no value or node uses.
  std::string unique_name(const std::string& base) const;
  Value* add_input(const std::string& name, DType dtype, Shape shape);
  Value* add_constant(const std::string& name, Tensor data);
  // Gives an existing graph input a default (an initializer listed as input).
  // overridable=false is IR < 4 semantics: the caller cannot replace it.
  void set_input_default(Value* input, Tensor data, bool overridable);
  // Replaces a constant's data (e.g. a folded weight). The value must not be a
  // graph input; callers that share data must add a new constant instead.
  void set_constant_data(Value* v, Tensor data);
  void add_output(Value* v);
  void replace_output(size_t index, Value* v);
  // Creates a node and its output values (an empty output name makes an
  // omitted optional output). Throws if an output name is taken.
  Node* add_node(const std::string& op_type, const std::vector<Value*>& inputs,
                 const std::vector<std::string>& output_names, const std::string& name = "",
                 const std::string& domain = "");
  void set_input(Node* node, size_t index, Value* v);  // v may be nullptr
  void append_input(Node* node, Value* v);
  void replace_all_uses(Value* from, Value* to);  // node inputs only, not graph outputs
  // Removes a node whose outputs have no uses and are not graph outputs, and
  // drops its output values.
  void erase_node(Node* node);
  // Renames a value (used to keep an output's name when its producer changes).
  void rename_value(Value* v, const std::string& new_name);
  // Importers set this so that node ids match the node's index in the file.
  void set_next_node_id(size_t id) { next_node_id_ = id; }
  // Drops values with no source role left: no uses, no producer, not an
  // input/output. Returns how many.
  size_t remove_unused_values();

  // --- analysis
  // Producers before consumers; stable w.r.t. insertion order. Throws
  // bnfold::Error naming the nodes on a cycle.
  std::vector<Node*> topological_order() const;
  // Checks every invariant (edges symmetric, one source per value, no dangling
  // values, acyclic, constant data consistent with dtype/shape); throws
  // bnfold::Error naming the first problem.
  void verify() const;
  // Readable, deterministic text form of the whole graph.
  std::string dump() const;

 private:
  Value* new_value(const std::string& name);
  void drop_value(Value* v);

  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Value>> values_;
  std::unordered_map<std::string, Value*> by_name_;
  std::vector<Value*> inputs_, outputs_;
  size_t next_node_id_ = 0;
};

}  // namespace bnfold
