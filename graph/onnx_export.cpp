// Graph -> ONNX model. Keeps input/output names and order, opset imports,
// producer info and metadata; optionally writes large tensors as external data.
#include <onnx/checker.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "bnfold/graph/atomic_file.hpp"
#include "graph/check.hpp"
#include "graph/external_data.hpp"
#include "graph/onnx_convert.hpp"
#include "bnfold/graph/onnx_io.hpp"

namespace fs = std::filesystem;

namespace bnfold {

namespace {

void set_type(const Value* v, onnx::ValueInfoProto* vi) {
  vi->set_name(v->name());
  if (!v->doc_string.empty()) vi->set_doc_string(v->doc_string);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(v->dtype()));
  if (!v->shape().rank_known) return;
  auto* shape = tt->mutable_shape();
  for (const Dim& d : v->shape().dims) {
    auto* dim = shape->add_dim();
    if (d.known()) dim->set_dim_value(d.value);
    else if (!d.symbol.empty()) dim->set_dim_param(d.symbol);
  }
}

// Moves large tensors' bytes into one side file; records where in each proto.
class ExternalWriter {
 public:
  ExternalWriter(const std::string& model_path, const ExportOptions& options)
      : options_(options) {
    if (options.external_file.empty()) return;
    check_external_file_name(options.external_file);
    fs::path dir = fs::path(model_path).parent_path();
    path_ = (dir / options.external_file).string();
    out_ = std::make_unique<AtomicFile>(path_);
  }

  void maybe_externalize(onnx::TensorProto* t) {
    if (!out_ || t->raw_data().size() < options_.external_threshold) return;
    const uint64_t pad = (64 - offset_ % 64) % 64;  // aligned for mmap-friendly readers
    static const char zeros[64] = {};
    out_->write(zeros, pad);
    offset_ += pad;
    const std::string& raw = t->raw_data();
    out_->write(raw.data(), raw.size());
    auto add = [t](const char* key, const std::string& value) {
      auto* e = t->add_external_data();
      e->set_key(key);
      e->set_value(value);
    };
    add("location", options_.external_file);
    add("offset", std::to_string(offset_));
    add("length", std::to_string(raw.size()));
    offset_ += raw.size();
    t->clear_raw_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
  }

  // Publishes the side file (rename from its temporary name).
  void commit() {
    if (out_) out_->commit();
  }

 private:
  const ExportOptions& options_;
  std::string path_;
  std::unique_ptr<AtomicFile> out_;
  uint64_t offset_ = 0;
};

void build_graph(const Graph& g, onnx::GraphProto* graph, ExternalWriter* ext, bool constants_as_nodes,
                 const std::map<std::string, std::string>& names, size_t formal);

void build_model(const Graph& g, onnx::ModelProto* m, ExternalWriter* ext) {
  const ModelInfo& info = g.info;
  m->set_ir_version(info.ir_version);
  m->set_producer_name(info.producer_name);
  m->set_producer_version(info.producer_version);
  if (!info.domain.empty()) m->set_domain(info.domain);
  m->set_model_version(info.model_version);
  if (!info.doc_string.empty()) m->set_doc_string(info.doc_string);
  for (const auto& [key, value] : info.metadata) {
    auto* p = m->add_metadata_props();
    p->set_key(key);
    p->set_value(value);
  }
  for (const auto& [domain, version] : info.opsets) {
    auto* op = m->add_opset_import();
    op->set_domain(domain);
    op->set_version(version);
  }

  auto* graph = m->mutable_graph();
  graph->set_name(info.graph_name.empty() ? "main_graph" : info.graph_name);  // the checker wants a name
  if (!info.graph_doc_string.empty()) graph->set_doc_string(info.graph_doc_string);
  // IR <= 3 requires every initializer to be a graph input; constants that are
  // not inputs are written as Constant nodes there instead.
  build_graph(g, graph, ext, info.ir_version <= 3, {}, g.inputs().size());
}

std::string renamed(const std::map<std::string, std::string>& names, const std::string& name) {
  auto it = names.find(name);
  return it == names.end() ? name : it->second;
}

// g's inputs (its first `formal`: a body's captured inputs are not written),
// outputs, initializers, nodes and value types into *graph; `names` renames
// a body's captured inputs to the outer values they stand for.
void build_graph(const Graph& g, onnx::GraphProto* graph, ExternalWriter* ext, bool constants_as_nodes,
                 const std::map<std::string, std::string>& names, size_t formal) {
  const auto name_of = [&](const Value* v) { return renamed(names, v->name()); };
  for (size_t i = 0; i < formal; ++i) set_type(g.inputs()[i], graph->add_input());
  for (const Value* v : g.outputs()) {
    set_type(v, graph->add_output());
    graph->mutable_output(graph->output_size() - 1)->set_name(name_of(v));
  }

  for (const Value* v : g.initializers()) {
    if (constants_as_nodes && !v->is_graph_input()) {
      auto* node = graph->add_node();
      node->set_op_type("Constant");
      node->add_output(v->name());
      auto* a = node->add_attribute();
      a->set_name("value");
      a->set_type(onnx::AttributeProto::TENSOR);
      tensor_to_proto(v->data(), v->name(), a->mutable_t());
      continue;
    }
    auto* t = graph->add_initializer();
    tensor_to_proto(v->data(), v->name(), t);
    if (ext) ext->maybe_externalize(t);
  }

  for (const Node* n : g.topological_order()) {
    auto* np = graph->add_node();
    np->set_op_type(n->op_type());
    if (!n->name().empty()) np->set_name(n->name());
    if (!n->domain().empty()) np->set_domain(n->domain());
    if (!n->doc_string.empty()) np->set_doc_string(n->doc_string);
    size_t captured = 0;
    for (const auto& [name, attr] : n->attrs())
      if (attr.kind == AttrKind::Graph) captured = static_cast<size_t>(attr.i);
    const size_t own = n->inputs().size() - captured;
    for (size_t i = 0; i < own; ++i) np->add_input(n->input(i) ? name_of(n->input(i)) : "");
    for (const Value* out : n->outputs()) np->add_output(out ? out->name() : "");
    for (const auto& [name, attr] : n->attrs()) {
      if (attr.kind != AttrKind::Graph) {
        attribute_to_proto(name, attr, np->add_attribute());
        continue;
      }
      // The body reads the outer values by their names here, as ONNX has it.
      const Graph& body = *attr.g;
      const size_t body_own = body.inputs().size() - captured;
      std::map<std::string, std::string> inner;
      for (size_t j = 0; j < captured; ++j)
        if (n->input(own + j)) inner[body.inputs()[body_own + j]->name()] = name_of(n->input(own + j));
      auto* a = np->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::GRAPH);
      a->mutable_g()->set_name(body.info.graph_name.empty() ? name : body.info.graph_name);
      build_graph(body, a->mutable_g(), ext, constants_as_nodes, inner, body_own);
    }
  }

  for (const Value* v : g.all_values()) {
    if (v->is_graph_input() || v->is_graph_output() || v->has_data()) continue;
    if (v->dtype() == DType::Undefined) continue;
    set_type(v, graph->add_value_info());
  }
}

// ONNX's checker on a model proto or a file path; its objection as bnfold::Error.
template <typename Model>
void run_checker(const Model& model, const std::string& name) {
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    failf(ErrorCode::InvalidModel, "{}: the ONNX checker rejects the model: {}", name, e.what());
  }
}

}  // namespace

std::string serialize_onnx(const Graph& graph) {
  onnx::ModelProto m;
  build_model(graph, &m, nullptr);
  std::string out;
  BNFOLD_CHECK(m.ByteSizeLong() <= 0x7fffffffu, ErrorCode::Unsupported,
               "the model is over 2 GB and cannot be serialized inline; write it to a file with "
               "external data");
  BNFOLD_CHECK(m.SerializeToString(&out), ErrorCode::Internal, "protobuf serialization failed");
  return out;
}

void save_onnx(const Graph& graph, const std::string& path, const ExportOptions& options) {
  onnx::ModelProto m;
  ExternalWriter ext(path, options);
  build_model(graph, &m, &ext);
  BNFOLD_CHECK(m.ByteSizeLong() <= 0x7fffffffu, ErrorCode::Unsupported,
               "{}: the model would be {} bytes, over protobuf's 2 GB limit; save with external "
               "data (--external-data)",
               path, m.ByteSizeLong());
  AtomicFile out(path);
  BNFOLD_CHECK(m.SerializeToFileDescriptor(out.fd()), ErrorCode::Io, "{}: write failed", path);
  ext.commit();  // the side file first: the checker reads it through the model
  // Checked before it replaces anything at `path`: a model the checker
  // rejects is never left there. Without external data, the checker reads the
  // proto just written, and the file is held to its exact size: reading 531 MB
  // back and parsing it again took 44% of vgg11_bn's fold. With external data
  // it reads the file, so that it finds the side file where a reader would.
  if (options.check && options.external_file.empty()) {
    std::error_code ec;
    const auto written = fs::file_size(out.temp_path(), ec);
    BNFOLD_CHECK(!ec && written == m.ByteSizeLong(), ErrorCode::Io, "{}: the write is incomplete ({} of {} bytes)",
                 path, ec ? 0 : written, m.ByteSizeLong());
    run_checker(m, path);
  } else if (options.check) {
    check_onnx_file(out.temp_path(), path);
  }
  out.commit();
}

// The model export writes, imported in memory: the same graph as through its
// serialized bytes, with each weight copied once (into the proto, whose bytes
// the import then takes over) instead of three times. fold --verify on
// fcn_resnet50 took 11.4 s with the serialized clone, 8.4 s with this one.
std::unique_ptr<Graph> clone_graph(const Graph& graph) {
  onnx::ModelProto m;
  build_model(graph, &m, nullptr);
  ImportOptions options;
  options.infer_shapes = false;  // the value_info written above carries the shapes
  return import_onnx_model(&m, graph.info.graph_name.empty() ? "graph" : graph.info.graph_name, options);
}

void check_onnx_file(const std::string& path) { check_onnx_file(path, path); }

void check_onnx_file(const std::string& path, const std::string& name) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  BNFOLD_CHECK(!ec, ErrorCode::Io, "{}: cannot read: {}", name, ec.message());
  // ONNX's checker casts the size to int and passes a >2 GB file as empty.
  BNFOLD_CHECK(size <= 0x7fffffffu, ErrorCode::Unsupported,
               "{}: over 2 GB; ONNX's checker cannot read it", name);
  run_checker(path, name);
}

}  // namespace bnfold
