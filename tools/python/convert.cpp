// numpy <-> bnfold conversions of the Python module.
#include <string>

#include "bnfold/graph/error.hpp"
#include "tools/python/module.hpp"

namespace bnfold::python {

DType dtype_of(const py::dtype& d) {
  if (d.is(py::dtype::of<float>())) return DType::Float32;
  if (d.is(py::dtype::of<double>())) return DType::Float64;
  if (d.is(py::dtype::of<int64_t>())) return DType::Int64;
  if (d.is(py::dtype::of<int32_t>())) return DType::Int32;
  if (d.is(py::dtype::of<uint8_t>())) return DType::UInt8;
  if (d.is(py::dtype::of<int8_t>())) return DType::Int8;
  if (d.is(py::dtype::of<bool>())) return DType::Bool;
  throw Error(ErrorCode::InvalidArgument, "numpy dtype (kind '" + std::string(1, d.kind()) + "', " +
                                              std::to_string(d.itemsize()) + " bytes) is not supported");
}

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Float32: return py::dtype::of<float>();
    case DType::Float64: return py::dtype::of<double>();
    case DType::Int64: return py::dtype::of<int64_t>();
    case DType::Int32: return py::dtype::of<int32_t>();
    case DType::UInt8: return py::dtype::of<uint8_t>();
    case DType::Int8: return py::dtype::of<int8_t>();
    case DType::Bool: return py::dtype::of<bool>();
    default: throw Error(ErrorCode::Unsupported, std::string("no numpy dtype for ") + dtype_name(t));
  }
}

Tensor to_tensor(py::array a, std::vector<py::array>* keep) {
  if (!(a.flags() & py::array::c_style)) {
    a = py::array::ensure(a, py::array::c_style);
    if (!a) throw py::error_already_set();
  }
  keep->push_back(a);
  std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
  return Tensor::borrow(dtype_of(a.dtype()), dims, const_cast<void*>(a.data()));
}

py::array to_numpy(Tensor t) {
  std::vector<py::ssize_t> shape(t.dims().begin(), t.dims().end());
  auto holder = new Tensor(std::move(t));  // the array owns the tensor
  py::capsule free_when_done(holder, [](void* p) { delete static_cast<Tensor*>(p); });
  return py::array(numpy_dtype(holder->dtype()), shape, holder->mutable_data(), free_when_done);
}

py::object as_dict(const std::string& json_text) { return py::module_::import("json").attr("loads")(json_text); }

BnInputStats stats_arg(const py::object& o) {
  if (py::isinstance<py::str>(o)) return BnInputStats::load(py::cast<std::string>(o));
  return py::cast<BnInputStats>(o);
}

}  // namespace bnfold::python
