// ONNX model -> Graph. Every check that protects later code (names resolve,
// one producer per value, data sizes match dims, no cycle) happens here or in
// Graph::verify(), so passes and kernels can trust the graph.
#include <onnx/shape_inference/implementation.h>

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_set>

#include "graph/check.hpp"
#include "graph/onnx_bodies.hpp"
#include "graph/onnx_convert.hpp"
#include "bnfold/graph/onnx_io.hpp"

#include "graph/attr_defaults.hpp"
#include "graph/attr_rules.hpp"

namespace fs = std::filesystem;

namespace bnfold {

namespace {

const char* type_kind_name(const onnx::TypeProto& t) {
  switch (t.value_case()) {
    case onnx::TypeProto::kTensorType: return "a tensor";
    case onnx::TypeProto::kSequenceType: return "a sequence";
    case onnx::TypeProto::kMapType: return "a map";
    case onnx::TypeProto::kOptionalType: return "an optional";
    case onnx::TypeProto::kSparseTensorType: return "a sparse tensor";
    default: return "a value without a type";
  }
}

// dtype and shape of a tensor-typed ValueInfo; false when it is not a tensor.
bool tensor_type(const onnx::ValueInfoProto& vi, const std::string& what, DType* dtype,
                 Shape* shape) {
  if (!vi.type().has_tensor_type()) return false;
  const auto& tt = vi.type().tensor_type();
  const int32_t code = tt.elem_type();
  BNFOLD_CHECK(code == 0 || dtype_is_known(code), ErrorCode::InvalidModel,
               "{} '{}': unknown data type {}", what, vi.name(), code);
  *dtype = static_cast<DType>(code);
  *shape = Shape::unknown();
  if (tt.has_shape()) {
    shape->rank_known = true;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        BNFOLD_CHECK(d.dim_value() >= 0, ErrorCode::InvalidModel,
                     "{} '{}': negative dimension {}", what, vi.name(), d.dim_value());
        shape->dims.push_back(Dim::fixed(d.dim_value()));
      } else if (d.has_dim_param()) {
        shape->dims.push_back(Dim::symbolic(d.dim_param()));
      } else {
        shape->dims.push_back(Dim{});
      }
    }
  }
  return true;
}

bool is_default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

// A Constant node's value, in any of its attribute forms.
Tensor constant_value(const onnx::NodeProto& node, const std::string& model_dir,
                      const std::string& where) {
  BNFOLD_CHECK(node.attribute_size() == 1, ErrorCode::InvalidModel,
               "{}: a Constant needs exactly one value attribute, found {}", where,
               node.attribute_size());
  const auto& a = node.attribute(0);
  const std::string& n = a.name();
  if (n == "value") return tensor_from_proto(a.t(), model_dir, where + ": value");
  if (n == "sparse_value") return sparse_tensor_from_proto(a.sparse_tensor(), where + ": sparse_value");
  if (n == "value_float" || n == "value_floats") {
    const bool scalar = n == "value_float";
    Tensor t(DType::Float32, scalar ? std::vector<int64_t>{} : std::vector<int64_t>{a.floats_size()});
    auto* p = t.mutable_data_as<float>();
    if (scalar) p[0] = a.f();
    for (int k = 0; k < a.floats_size(); ++k) p[k] = a.floats(k);
    return t;
  }
  if (n == "value_int" || n == "value_ints") {
    const bool scalar = n == "value_int";
    Tensor t(DType::Int64, scalar ? std::vector<int64_t>{} : std::vector<int64_t>{a.ints_size()});
    auto* p = t.mutable_data_as<int64_t>();
    if (scalar) p[0] = a.i();
    for (int k = 0; k < a.ints_size(); ++k) p[k] = a.ints(k);
    return t;
  }
  if (n == "value_string" || n == "value_strings")
    failf(ErrorCode::Unsupported, "{}: string constants are not supported", where);
  failf(ErrorCode::InvalidModel, "{}: unknown Constant attribute '{}'", where, n);
}

// Ops whose libonnx 1.12 inference functions index dims they have not
// checked on malformed nodes (the fuzzer crashed MaxUnpool's, which reads the
// indices' dim 1 when they have no shape, and STFT's on a scalar signal), or
// that bnfold has not audited for that: ONNX shape inference is skipped for
// models with them. bnfold's own plan-time inference gives their shapes.
bool unvetted_inference(const std::string& op) {
  static const std::set<std::string> ops = {
      "MaxUnpool", "STFT", "DFT", "MelWeightMatrix", "HannWindow", "HammingWindow", "BlackmanWindow",
      "GridSample", "Einsum", "RoiAlign", "TfIdfVectorizer", "NonMaxSuppression", "Unique", "Compress",
      "ReverseSequence", "Det", "QLinearConv", "QLinearMatMul", "MatMulInteger", "NegativeLogLikelihoodLoss",
      "SoftmaxCrossEntropyLoss",
      // Their inference functions run the bodies' inference on what the node
      // declares; the fuzzer crashed Scan's (opset 9) with a malformed body.
      "If", "Loop", "Scan"};
  return ops.count(op) != 0;
}

// libonnx 1.12's LayerNormalization inference indexes X's dims by `axis`
// unchecked (the fuzzer crashed it with axis 20937965567): safe where the
// axis is -1 (the exporters') or within X's declared rank.
bool axis_safe(const Node& n) {
  if (n.op_type() != "LayerNormalization") return true;
  auto it = n.attrs().find("axis");
  const int64_t axis = it == n.attrs().end() || it->second.kind != AttrKind::Int ? -1 : it->second.i;
  if (axis == -1) return true;
  const Value* x = n.input(0);
  if (!x || !x->shape().rank_known) return false;
  const auto r = static_cast<int64_t>(x->shape().rank());
  return axis >= -r && axis < r;
}

class Importer {
 public:
  Importer(onnx::ModelProto& model, std::string model_dir, const ImportOptions& options)
      : model_(&model), gp_(model.mutable_graph()), dir_(std::move(model_dir)), options_(options) {}
  // A control-flow body: its outer scope's model info, and the outer names it
  // reads (free_names()), declared as graph inputs after its own.
  Importer(onnx::GraphProto& body, const ModelInfo& outer, std::string model_dir, const ImportOptions& options,
           std::vector<std::string> captures)
      : gp_(&body), outer_(&outer), dir_(std::move(model_dir)), options_(options), captures_(std::move(captures)) {}

  std::unique_ptr<Graph> run() {
    g_ = std::make_unique<Graph>();
    if (outer_) {
      g_->info.ir_version = outer_->ir_version;
      g_->info.opsets = outer_->opsets;
      g_->info.graph_name = gp_->name();
    } else {
      read_model_info();
    }
    const auto& graph = *gp_;
    for (const auto& in : graph.input()) add_graph_input(in);
    for (const auto& name : captures_) g_->add_input(name, DType::Undefined, Shape::unknown());
    // Each initializer's bytes become its tensor's (the proto is discarded after).
    for (auto& init : *gp_->mutable_initializer()) add_initializer(&init);
    for (const auto& sparse : graph.sparse_initializer()) {
      const std::string name = sparse.values().name();
      add_constant(name, sparse_tensor_from_proto(sparse, "sparse initializer '" + name + "'"));
    }
    // Nodes first: their attributes are checked (check_attributes) before
    // ONNX's shape inference divides by strides and block sizes.
    for (int k = 0; k < graph.node_size(); ++k) add_node(graph.node(k), static_cast<size_t>(k));
    resolve_node_inputs();
    for (const Node* n : g_->nodes()) check_input_ranks(*n);
    if (options_.infer_shapes && !outer_) {
      BNFOLD_CHECK(options_.has_kernel, ErrorCode::Internal,
                   "import with shape inference needs ImportOptions::has_kernel (load_onnx gives the op table)");
      const Node* unknown = nullptr;
      const Node* unsafe = nullptr;
      const int64_t opset = g_->info.opsets.count("") ? g_->info.opsets.at("") : 0;
      each_node(*g_, [&](const Node* n) {
        if (!unknown && !options_.has_kernel(n->op_type(), opset)) unknown = n;
        if (!unsafe && n->domain().empty() && (unvetted_inference(n->op_type()) || !axis_safe(*n))) unsafe = n;
      });
      if (unknown)
        g_->info.warnings.push_back(fmt::format(
            "ONNX shape inference skipped: {} has no kernel in bnfold", unknown->label()));
      else if (unsafe)
        g_->info.warnings.push_back(fmt::format(
            "ONNX shape inference skipped: libonnx 1.12 may not infer {} safely", unsafe->label()));
      else
        infer_shapes();
    }
    for (const auto& vi : graph.value_info()) apply_value_info(vi, false);
    for (const auto& out : graph.output()) add_graph_output(out);
    if (!outer_) type_captures(*g_);
    g_->verify();
    return std::move(g_);
  }

 private:
  void read_model_info() {
    const onnx::ModelProto& model = *model_;
    ModelInfo& info = g_->info;
    info.ir_version = model.ir_version();
    info.producer_name = model.producer_name();
    info.producer_version = model.producer_version();
    info.domain = model.domain();
    info.model_version = model.model_version();
    info.doc_string = model.doc_string();
    info.graph_name = model.graph().name();
    info.graph_doc_string = model.graph().doc_string();
    for (const auto& kv : model.metadata_props()) info.metadata.emplace_back(kv.key(), kv.value());
    for (const auto& op : model.opset_import()) {
      const std::string d = is_default_domain(op.domain()) ? "" : op.domain();
      BNFOLD_CHECK(!info.opsets.count(d), ErrorCode::InvalidModel,
                   "opset of domain '{}' is imported twice", d.empty() ? "ai.onnx" : d);
      info.opsets[d] = op.version();
    }
    if (!info.opsets.count("")) {
      // IR 1-2 models carry no opset_import; ONNX then means opset 1.
      info.opsets[""] = 1;
      info.warnings.push_back("no opset import for the default domain; assuming opset 1");
    }
    BNFOLD_CHECK(model.functions_size() == 0, ErrorCode::Unsupported,
                 "model-local functions ({} found, first '{}') are not supported",
                 model.functions_size(), model.functions(0).name());
  }

  void infer_shapes() {
    try {
      onnx::ShapeInferenceOptions opts(false, 0, false);
      onnx::shape_inference::InferShapes(*model_, onnx::OpSchemaRegistry::Instance(), opts);
    } catch (const std::exception& e) {
      // Advisory: the graph is still usable, only with fewer known shapes.
      g_->info.warnings.push_back(std::string("ONNX shape inference failed: ") + e.what());
    }
  }

  void add_graph_input(const onnx::ValueInfoProto& vi) {
    DType dtype = DType::Undefined;
    Shape shape;
    // A body's inputs may leave their type to inference (a Loop's carried values).
    const bool untyped_body_input = outer_ && vi.type().value_case() == onnx::TypeProto::VALUE_NOT_SET;
    BNFOLD_CHECK(untyped_body_input || tensor_type(vi, "graph input", &dtype, &shape), ErrorCode::Unsupported,
                 "graph input '{}' is {}; bnfold supports tensors only", vi.name(),
                 type_kind_name(vi.type()));
    BNFOLD_CHECK(!vi.name().empty(), ErrorCode::InvalidModel, "a graph input has no name");
    BNFOLD_CHECK(!g_->find_value(vi.name()), ErrorCode::InvalidModel,
                 "graph input '{}' is listed twice", vi.name());
    Value* v = g_->add_input(vi.name(), dtype, shape);
    v->doc_string = vi.doc_string();
  }

  void add_initializer(onnx::TensorProto* init) {
    const std::string name = init->name();
    BNFOLD_CHECK(!name.empty(), ErrorCode::InvalidModel, "an initializer has no name");
    Tensor t = take_tensor_from_proto(init, dir_, fmt::format("initializer '{}'", name));
    Value* existing = g_->find_value(name);
    if (existing && existing->is_graph_input() && !existing->has_data()) {
      // IR >= 4: an initializer listed as an input is a default the caller may
      // override. IR < 4 had to list every initializer as an input; there they
      // are plain constants.
      g_->set_input_default(existing, std::move(t), g_->info.ir_version >= 4);
      return;
    }
    add_constant(name, std::move(t));
  }

  void add_constant(const std::string& name, Tensor t) {
    BNFOLD_CHECK(!g_->find_value(name), ErrorCode::InvalidModel, "initializer '{}' is defined twice",
                 name);
    g_->add_constant(name, std::move(t));
  }

  void add_node(const onnx::NodeProto& np, size_t index) {
    const std::string where = np.name().empty()
                                  ? fmt::format("node #{} ({})", index, np.op_type())
                                  : fmt::format("node #{} '{}' ({})", index, np.name(), np.op_type());
    BNFOLD_CHECK(!np.op_type().empty(), ErrorCode::InvalidModel, "{}: no op_type", where);
    if (!is_default_domain(np.domain())) {
      failf(ErrorCode::Unsupported,
            "{}: operator domain '{}' is not supported (bnfold runs the default ONNX domain only)",
            where, np.domain());
    }
    if (np.op_type() == "Constant") {
      BNFOLD_CHECK(np.output_size() == 1 && !np.output(0).empty(), ErrorCode::InvalidModel,
                   "{}: a Constant needs one named output", where);
      Tensor t = constant_value(np, dir_, where);
      if (g_->find_value(np.output(0)))
        failf(ErrorCode::InvalidModel, "{}: output '{}' is already produced elsewhere", where,
              np.output(0));
      g_->add_constant(np.output(0), std::move(t));
      return;
    }
    std::vector<bool> given;
    for (const auto& in : np.input()) given.push_back(!in.empty());
    const auto opset = g_->info.opsets.count("") ? g_->info.opsets.at("") : 0;
    const std::string arity = onnx_arity_problem(np.op_type(), "", opset, given, static_cast<size_t>(np.output_size()));
    BNFOLD_CHECK(arity.empty(), ErrorCode::InvalidModel, "{}: {}", where, arity);
    std::vector<std::string> outs(np.output().begin(), np.output().end());
    g_->set_next_node_id(index);
    Node* n = g_->add_node(np.op_type(), {}, outs, np.name(), np.domain());
    n->doc_string = np.doc_string();
    // A body's reads of this scope become the node's last inputs (one list for all its bodies).
    // Bodies in name order, as the graph keeps attributes: the same order after an export.
    std::vector<std::string> captures;
    std::map<std::string, const onnx::GraphProto*> bodies;
    for (const auto& a : np.attribute())
      if (a.type() == onnx::AttributeProto::GRAPH) bodies[a.name()] = &a.g();
    for (const auto& [name, body] : bodies) free_names(*body, &captures);
    for (const auto& a : np.attribute()) {
      BNFOLD_CHECK(!n->has_attr(a.name()), ErrorCode::InvalidModel,
                   "{}: attribute '{}' is given twice", where, a.name());
      if (a.type() != onnx::AttributeProto::GRAPH) {
        n->set_attr(a.name(), attribute_from_proto(a, dir_, where));
        continue;
      }
      onnx::GraphProto body = a.g();  // a copy: initializers are moved out of it
      Attribute at;
      at.kind = AttrKind::Graph;
      at.i = static_cast<int64_t>(captures.size());
      try {
        at.g = Importer(body, g_->info, dir_, options_, captures).run();
      } catch (const Error& e) {
        throw Error(e.code(), fmt::format("{}: body '{}': {}", where, a.name(), e.what()));
      }
      n->set_attr(a.name(), std::move(at));
    }
    check_attributes(*n, where);
    std::vector<std::string> inputs(np.input().begin(), np.input().end());
    inputs.insert(inputs.end(), captures.begin(), captures.end());
    pending_inputs_.emplace_back(n, std::move(inputs));
  }

  void resolve_node_inputs() {
    for (auto& [node, names] : pending_inputs_) {
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i].empty()) {
          g_->append_input(node, nullptr);  // omitted optional input
          continue;
        }
        Value* v = g_->find_value(names[i]);
        BNFOLD_CHECK(v != nullptr, ErrorCode::InvalidModel,
                     "{}: input {} '{}' is not produced by any node, initializer or graph input",
                     node->label(), i, names[i]);
        g_->append_input(node, v);
      }
    }
  }

  void apply_value_info(const onnx::ValueInfoProto& vi, bool is_output) {
    Value* v = g_->find_value(vi.name());
    DType dtype;
    Shape shape;
    if (!tensor_type(vi, is_output ? "graph output" : "value_info", &dtype, &shape)) {
      // A body's outputs may leave their type to inference, as its inputs may.
      const bool untyped = outer_ && vi.type().value_case() == onnx::TypeProto::VALUE_NOT_SET;
      BNFOLD_CHECK(!is_output || untyped, ErrorCode::Unsupported,
                   "graph output '{}' is {}; bnfold supports tensors only", vi.name(),
                   type_kind_name(vi.type()));
      return;
    }
    if (!v || v->has_data()) return;  // constants keep the type of their data
    if (dtype != DType::Undefined) v->set_dtype(dtype);
    if (shape.rank_known) v->set_shape(shape);
    if (!vi.doc_string().empty()) v->doc_string = vi.doc_string();
  }

  void add_graph_output(const onnx::ValueInfoProto& vi) {
    Value* v = g_->find_value(vi.name());
    BNFOLD_CHECK(v != nullptr, ErrorCode::InvalidModel,
                 "graph output '{}' is not produced by any node, initializer or graph input",
                 vi.name());
    BNFOLD_CHECK(!v->is_graph_output(), ErrorCode::InvalidModel, "graph output '{}' is listed twice",
                 vi.name());
    apply_value_info(vi, true);
    g_->add_output(v);
  }

  onnx::ModelProto* model_ = nullptr;  // null for a body
  onnx::GraphProto* gp_;
  const ModelInfo* outer_ = nullptr;   // a body's enclosing model
  std::string dir_;
  const ImportOptions& options_;
  std::vector<std::string> captures_;
  std::unique_ptr<Graph> g_;
  std::vector<std::pair<Node*, std::vector<std::string>>> pending_inputs_;
};

std::unique_ptr<Graph> import_model(onnx::ModelProto& model, const std::string& name, const std::string& dir,
                                    const ImportOptions& options) {
  BNFOLD_CHECK(model.has_graph() && model.ir_version() > 0, ErrorCode::InvalidModel,
               "{}: not an ONNX model: it has no {} (empty, or another kind of protobuf)", name,
               model.has_graph() ? "IR version" : "graph");
  try {
    return Importer(model, dir, options).run();
  } catch (const Error& e) {
    throw Error(e.code(), name + ": " + e.what());
  }
}

std::unique_ptr<Graph> import_bytes(const void* data, size_t size, const std::string& name,
                                    const std::string& dir, const ImportOptions& options) {
  BNFOLD_CHECK(size <= options.max_model_bytes, ErrorCode::Unsupported,
               "{}: the model is {:.2f} GB; protobuf cannot parse a model over 2 GB. Save its "
               "weights as external data (onnx.save_model(..., save_as_external_data=True))",
               name, static_cast<double>(size) / (1024.0 * 1024.0 * 1024.0));
  onnx::ModelProto model;
  BNFOLD_CHECK(model.ParseFromArray(data, static_cast<int>(size)), ErrorCode::InvalidModel,
               "{}: not an ONNX model: the protobuf does not parse (truncated or not a model file)",
               name);
  return import_model(model, name, dir, options);
}

}  // namespace

std::unique_ptr<Graph> import_onnx(const std::string& path, const ImportOptions& options) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  BNFOLD_CHECK(fs::exists(status), ErrorCode::Io, "{}: no such file", path);
  BNFOLD_CHECK(fs::is_regular_file(status), ErrorCode::Io, "{}: not a regular file", path);
  const uint64_t size = fs::file_size(path, ec);
  BNFOLD_CHECK(!ec, ErrorCode::Io, "{}: cannot read its size: {}", path, ec.message());
  // Refuse before reading: a >2 GB file would be read for nothing.
  BNFOLD_CHECK(size <= options.max_model_bytes, ErrorCode::Unsupported,
               "{}: the file is {:.2f} GB; protobuf cannot parse a model over 2 GB. Save its "
               "weights as external data (onnx.save_model(..., save_as_external_data=True))",
               path, static_cast<double>(size) / (1024.0 * 1024.0 * 1024.0));
  // Parsed from a read-only mapping of the file: each weight's bytes are then
  // copied once, into a string of its exact size. (Parsed from a stream, a
  // large raw_data grows piece by piece: vgg11_bn's 531 MB spent 64% of its
  // load in re-copying and page faults of the growing strings. Read into a
  // buffer first, the whole file was in memory twice.)
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  BNFOLD_CHECK(fd >= 0, ErrorCode::Io, "{}: cannot open for reading: {}", path, std::strerror(errno));
  onnx::ModelProto model;
  bool parsed;
  void* bytes = size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : MAP_FAILED;
  if (bytes != MAP_FAILED) {
    ::close(fd);
    const std::shared_ptr<void> unmap(bytes, [size](void* p) { ::munmap(p, size); });
    parsed = model.ParseFromArray(bytes, static_cast<int>(size));
  } else {
    // An empty file, or a file system that cannot map files (some FUSE
    // mounts): read in 1 MB pieces.
    google::protobuf::io::FileInputStream stream(fd, 1 << 20);
    stream.SetCloseOnDelete(true);
    parsed = model.ParseFromZeroCopyStream(&stream);
    BNFOLD_CHECK(stream.GetErrno() == 0, ErrorCode::Io, "{}: read failed: {}", path, std::strerror(stream.GetErrno()));
  }
  BNFOLD_CHECK(parsed, ErrorCode::InvalidModel,
               "{}: not an ONNX model: the protobuf does not parse (truncated or not a model file)", path);
  std::string dir = fs::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return import_model(model, path, dir, options);
}

std::unique_ptr<Graph> import_onnx_model(onnx::ModelProto* model, const std::string& name,
                                         const ImportOptions& options) {
  return import_model(*model, name, "", options);
}

std::unique_ptr<Graph> import_onnx_bytes(const void* data, size_t size, const std::string& name,
                                         const std::string& base_dir, const ImportOptions& options) {
  return import_bytes(data, size, name, base_dir, options);
}

}  // namespace bnfold
