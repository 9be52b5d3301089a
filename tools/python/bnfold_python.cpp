// Python bindings (pybind11): `import bnfold`.
//
//   report = bnfold.fold("model.onnx", "folded.onnx", verify=True)
//   s = bnfold.Session("model.onnx", threads=2)
//   outputs = s.run({"input": x})          # dict of numpy arrays
//   bnfold.drift("model.onnx", ["data/"]), bnfold.recalibrate(...), bnfold.audit(...)
//
// bnfold::Error becomes bnfold.Error (a RuntimeError) with the library's message.
#include <pybind11/pybind11.h>

#include <string>

#include "bnfold/version.hpp"
#include "bnfold/graph/error.hpp"
#include "tools/python/module.hpp"

namespace py = pybind11;
using bnfold::Error;

PYBIND11_MODULE(bnfold, m) {
  m.doc() =
      "bnfold: BatchNormalization folding, an ONNX runtime on oneDNN, and train/inference tools.\n\n"
      "  s = bnfold.Session('model.onnx'); y = s.run({s.inputs[0]: x})\n"
      "  report = bnfold.fold('model.onnx', 'folded.onnx')\n"
      "  check = bnfold.verify('model.onnx', 'folded.onnx')\n"
      "  bnfold.drift / bnfold.audit / bnfold.recalibrate on data paths\n\n"
      "Errors raise bnfold.Error (a RuntimeError) with the library's message.";
  m.attr("__version__") = BNFOLD_VERSION_STRING;
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      // A message may quote bytes from a file name or a model that are not
      // UTF-8: decoded with replacement, never an empty message.
      const std::string what = e.what();
      PyObject* text = PyUnicode_DecodeUTF8(what.data(), static_cast<Py_ssize_t>(what.size()), "replace");
      if (!text) {
        PyErr_Clear();
        text = PyUnicode_FromString("(a message that could not be decoded)");
      }
      PyErr_SetObject(error.ptr(), text);
      Py_XDECREF(text);
    } catch (const py::cast_error& e) {
      // pybind11's "Unable to cast Python instance of type ... to C++ type ..."
      // names C++ types; say what the argument should be instead.
      PyErr_SetString(PyExc_TypeError,
                      "an argument has the wrong type (see the function's help() for what each one takes)");
    }
  });
  bnfold::python::bind_model_tools(m);
  bnfold::python::bind_session(m);
  bnfold::python::bind_analysis(m);
}
