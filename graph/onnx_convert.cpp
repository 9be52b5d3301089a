#include "graph/onnx_convert.hpp"

#include "bnfold/graph/numbers.hpp"

#include <cstring>

#include "graph/check.hpp"
#include "graph/external_data.hpp"
#include "bnfold/graph/memory.hpp"

namespace bnfold {

namespace {

using TP = onnx::TensorProto;

// Checks that a repeated proto field holds exactly `count` values, then
// allocates the tensor and copies them, converting each element.
template <typename Dst, typename Field, typename Conv>
Tensor from_field(const Field& field, DType dtype, const std::vector<int64_t>& dims, int64_t count,
                  const std::string& what, const char* field_name, Conv conv) {
  BNFOLD_CHECK(static_cast<int64_t>(field.size()) == count, ErrorCode::InvalidModel,
               "{}: {} holds {} values but dims {} need {}", what, field_name, field.size(),
               Tensor::borrow(dtype, dims, nullptr).describe(), count);
  Tensor t(dtype, dims);
  Dst* out = static_cast<Dst*>(t.mutable_data());
  for (int64_t k = 0; k < count; ++k) out[k] = static_cast<Dst>(conv(field.Get(static_cast<int>(k))));
  return t;
}

ExternalDataRef external_ref(const TP& proto, const std::string& what) {
  ExternalDataRef ref;
  for (const auto& entry : proto.external_data()) {
    const std::string& key = entry.key();
    if (key == "location") {
      ref.location = entry.value();
    } else if (key == "offset" || key == "length") {
      const auto parsed = parse_uint64(entry.value());
      BNFOLD_CHECK(parsed.has_value(), ErrorCode::InvalidModel, "{}: external data {} '{}' is not a number", what,
                   key, entry.value());
      const uint64_t v = *parsed;
      if (key == "offset") ref.offset = v;
      else ref.length = v;
    }
  }
  return ref;
}

// The dtype and dims a TensorProto declares, checked, and what they hold.
struct Header {
  DType dtype;
  std::vector<int64_t> dims;
  int64_t count;
  uint64_t nbytes;
};

Header read_header(const TP& proto, const std::string& what) {
  const int32_t code = proto.data_type();
  BNFOLD_CHECK(dtype_is_known(code), ErrorCode::InvalidModel, "{}: unknown data type {}", what, code);
  const auto dtype = static_cast<DType>(code);
  BNFOLD_CHECK(dtype != DType::String, ErrorCode::Unsupported, "{}: string tensors are not supported", what);
  BNFOLD_CHECK(!proto.has_segment(), ErrorCode::Unsupported, "{}: segmented tensors are not supported", what);
  std::vector<int64_t> dims(proto.dims().begin(), proto.dims().end());
  for (int64_t d : dims)
    BNFOLD_CHECK(d >= 0, ErrorCode::InvalidModel, "{}: negative dimension {} in dims", what, d);
  // The element count is validated against the data actually present before
  // allocating, so a small file cannot make bnfold allocate gigabytes.
  const Tensor shape_only = Tensor::borrow(dtype, dims, nullptr);
  return {dtype, std::move(dims), shape_only.numel(), shape_only.nbytes()};
}

void check_raw_size(const TP& proto, const Header& h, const std::string& what) {
  BNFOLD_CHECK(proto.raw_data().size() == h.nbytes, ErrorCode::InvalidModel,
               "{}: raw_data has {} bytes but dims {} need {}", what, proto.raw_data().size(),
               Tensor::borrow(h.dtype, h.dims, nullptr).describe(), h.nbytes);
}

}  // namespace

Tensor take_tensor_from_proto(TP* proto, const std::string& model_dir, const std::string& what) {
  // Small tensors are copied: a heap string of their own would cost more than their bytes.
  constexpr size_t kAdoptFrom = 4096;
  if (proto->data_location() == TP::EXTERNAL || proto->raw_data().size() < kAdoptFrom)
    return tensor_from_proto(*proto, model_dir, what);
  Header h = read_header(*proto, what);
  check_raw_size(*proto, h, what);
  std::shared_ptr<std::string> bytes(proto->release_raw_data());
  void* data = bytes->data();
  const size_t n = bytes->size();
  // Counted like every other tensor (--max-memory, SessionOptions::max_memory).
  return Tensor::adopt(h.dtype, std::move(h.dims), account(std::move(bytes), n, [&] { return what; }), data);
}

Tensor tensor_from_proto(const TP& proto, const std::string& model_dir, const std::string& what) {
  Header h = read_header(proto, what);
  const DType dtype = h.dtype;
  const std::vector<int64_t>& dims = h.dims;
  const int64_t count = h.count;
  const uint64_t nbytes = h.nbytes;

  if (proto.data_location() == TP::EXTERNAL) {
    const ExternalDataRef ref = external_ref(proto, what);
    read_external_data(model_dir, ref, nullptr, nbytes, what);  // bounds only
    Tensor t(dtype, dims);
    read_external_data(model_dir, ref, t.mutable_data(), nbytes, what);
    return t;
  }

  if (!proto.raw_data().empty() || count == 0) {
    check_raw_size(proto, h, what);
    Tensor t(dtype, dims);
    if (nbytes) std::memcpy(t.mutable_data(), proto.raw_data().data(), nbytes);
    return t;
  }

  const int64_t n = count;
  auto keep = [](auto v) { return v; };
  // ONNX stores the narrow types one per int32_data entry (float16 and
  // bfloat16 as their bit patterns); uint32 lives in uint64_data.
  switch (dtype) {
    case DType::Float32: return from_field<float>(proto.float_data(), dtype, dims, n, what, "float_data", keep);
    case DType::Complex64: return from_field<float>(proto.float_data(), dtype, dims, 2 * n, what, "float_data", keep);
    case DType::Float64: return from_field<double>(proto.double_data(), dtype, dims, n, what, "double_data", keep);
    case DType::Complex128: return from_field<double>(proto.double_data(), dtype, dims, 2 * n, what, "double_data", keep);
    case DType::Int64: return from_field<int64_t>(proto.int64_data(), dtype, dims, n, what, "int64_data", keep);
    case DType::UInt32: return from_field<uint32_t>(proto.uint64_data(), dtype, dims, n, what, "uint64_data", keep);
    case DType::UInt64: return from_field<uint64_t>(proto.uint64_data(), dtype, dims, n, what, "uint64_data", keep);
    case DType::Int32: return from_field<int32_t>(proto.int32_data(), dtype, dims, n, what, "int32_data", keep);
    case DType::Int16: return from_field<int16_t>(proto.int32_data(), dtype, dims, n, what, "int32_data", keep);
    case DType::UInt16:
    case DType::Float16:
    case DType::BFloat16: return from_field<uint16_t>(proto.int32_data(), dtype, dims, n, what, "int32_data", keep);
    case DType::Int8: return from_field<int8_t>(proto.int32_data(), dtype, dims, n, what, "int32_data", keep);
    case DType::UInt8: return from_field<uint8_t>(proto.int32_data(), dtype, dims, n, what, "int32_data", keep);
    case DType::Bool:
      return from_field<uint8_t>(proto.int32_data(), dtype, dims, n, what, "int32_data",
                                 [](int32_t v) { return v != 0; });
    case DType::Undefined:
    case DType::String: break;
  }
  failf(ErrorCode::Unsupported, "{}: {} tensors are not supported", what, dtype_name(dtype));
}

Tensor sparse_tensor_from_proto(const onnx::SparseTensorProto& proto, const std::string& what) {
  // Sparse values are never external in practice; refuse rather than guess.
  const Tensor values = tensor_from_proto(proto.values(), "", what + " (sparse values)");
  const Tensor indices = tensor_from_proto(proto.indices(), "", what + " (sparse indices)");
  std::vector<int64_t> dims(proto.dims().begin(), proto.dims().end());
  Tensor dense(values.dtype(), dims);
  const int64_t nnz = values.numel();
  const int64_t total = dense.numel();
  BNFOLD_CHECK(values.rank() == 1, ErrorCode::InvalidModel, "{}: sparse values must be 1-D", what);
  BNFOLD_CHECK(indices.dtype() == DType::Int64, ErrorCode::InvalidModel,
               "{}: sparse indices must be int64", what);
  const auto* idx = indices.data_as<int64_t>();
  const size_t elem = dtype_size(values.dtype());
  auto* out = static_cast<unsigned char*>(dense.mutable_data());
  const auto* in = static_cast<const unsigned char*>(values.data());
  const bool linear = indices.rank() == 1;
  BNFOLD_CHECK((linear && indices.dims()[0] == nnz) ||
                   (indices.rank() == 2 && indices.dims()[0] == nnz &&
                    indices.dims()[1] == static_cast<int64_t>(dims.size())),
               ErrorCode::InvalidModel, "{}: sparse indices {} do not fit {} values of rank {}",
               what, indices.describe(), nnz, dims.size());
  for (int64_t k = 0; k < nnz; ++k) {
    int64_t offset = 0;
    if (linear) {
      offset = idx[k];
    } else {
      for (size_t d = 0; d < dims.size(); ++d) {
        const int64_t i = idx[k * static_cast<int64_t>(dims.size()) + static_cast<int64_t>(d)];
        BNFOLD_CHECK(i >= 0 && i < dims[d], ErrorCode::InvalidModel,
                     "{}: sparse index {} out of range for dim {}", what, i, dims[d]);
        offset = offset * dims[d] + i;
      }
    }
    BNFOLD_CHECK(offset >= 0 && offset < total, ErrorCode::InvalidModel,
                 "{}: sparse index {} out of range", what, offset);
    std::memcpy(out + offset * static_cast<int64_t>(elem), in + k * static_cast<int64_t>(elem), elem);
  }
  return dense;
}

void tensor_to_proto(const Tensor& t, const std::string& name, TP* proto) {
  proto->set_name(name);
  proto->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.dims()) proto->add_dims(d);
  proto->set_raw_data(t.data(), t.nbytes());
}

Attribute attribute_from_proto(const onnx::AttributeProto& p, const std::string& model_dir,
                               const std::string& where) {
  using AP = onnx::AttributeProto;
  Attribute a;
  const std::string what = fmt::format("{}: attribute '{}'", where, p.name());
  BNFOLD_CHECK(p.ref_attr_name().empty(), ErrorCode::Unsupported,
               "{} refers to a function attribute; functions are not supported", what);
  switch (p.type()) {
    case AP::FLOAT: a.kind = AttrKind::Float; a.f = p.f(); break;
    case AP::INT: a.kind = AttrKind::Int; a.i = p.i(); break;
    case AP::STRING: a.kind = AttrKind::String; a.s = p.s(); break;
    case AP::TENSOR:
      a.kind = AttrKind::Tensor;
      a.t = tensor_from_proto(p.t(), model_dir, what);
      break;
    case AP::FLOATS:
      a.kind = AttrKind::Floats;
      a.floats.assign(p.floats().begin(), p.floats().end());
      break;
    case AP::INTS:
      a.kind = AttrKind::Ints;
      a.ints.assign(p.ints().begin(), p.ints().end());
      break;
    case AP::STRINGS:
      a.kind = AttrKind::Strings;
      a.strings.assign(p.strings().begin(), p.strings().end());
      break;
    case AP::TENSORS:
      a.kind = AttrKind::Tensors;
      for (const auto& t : p.tensors()) a.tensors.push_back(tensor_from_proto(t, model_dir, what));
      break;
    case AP::GRAPH:  // a body: the importer reads it with its outer scope
    case AP::GRAPHS:
      failf(ErrorCode::Unsupported, "{} is a list of graphs, which is not supported", what);
    case AP::SPARSE_TENSOR:
    case AP::SPARSE_TENSORS:
      failf(ErrorCode::Unsupported, "{} is a sparse tensor, which is not supported here", what);
    case AP::TYPE_PROTO:
    case AP::TYPE_PROTOS:
      failf(ErrorCode::Unsupported, "{} is a type, which is not supported", what);
    case AP::UNDEFINED:
    default:
      failf(ErrorCode::InvalidModel, "{} has an undefined type ({})", what,
            static_cast<int>(p.type()));
  }
  return a;
}

void attribute_to_proto(const std::string& name, const Attribute& a, onnx::AttributeProto* p) {
  using AP = onnx::AttributeProto;
  p->set_name(name);
  switch (a.kind) {
    case AttrKind::Float: p->set_type(AP::FLOAT); p->set_f(a.f); break;
    case AttrKind::Int: p->set_type(AP::INT); p->set_i(a.i); break;
    case AttrKind::String: p->set_type(AP::STRING); p->set_s(a.s); break;
    case AttrKind::Tensor: p->set_type(AP::TENSOR); tensor_to_proto(a.t, "", p->mutable_t()); break;
    case AttrKind::Floats:
      p->set_type(AP::FLOATS);
      for (float f : a.floats) p->add_floats(f);
      break;
    case AttrKind::Ints:
      p->set_type(AP::INTS);
      for (int64_t i : a.ints) p->add_ints(i);
      break;
    case AttrKind::Strings:
      p->set_type(AP::STRINGS);
      for (const auto& s : a.strings) p->add_strings(s);
      break;
    case AttrKind::Tensors:
      p->set_type(AP::TENSORS);
      for (const auto& t : a.tensors) tensor_to_proto(t, "", p->add_tensors());
      break;
    case AttrKind::Graph:
      // A body needs its outer scope's names: onnx_export.cpp writes it.
      failf(ErrorCode::Internal, "attribute '{}': a body is written by the graph exporter", name);
  }
}

}  // namespace bnfold
