// Internal to the Python module: conversions between numpy and bnfold, and
// the pieces each binding file registers.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bnfold/analysis/bn_moments.hpp"
#include "bnfold/graph/tensor.hpp"

namespace bnfold::python {

namespace py = pybind11;

DType dtype_of(const py::dtype& d);
py::dtype numpy_dtype(DType t);
// A numpy array to a Tensor: zero-copy when it is C-contiguous (the array is
// kept alive in `keep` for the run), else a contiguous copy. Inputs are only
// read: read-only and memory-mapped arrays are taken as they are. A copy that
// fails (no memory for a large non-contiguous input) raises Python's own
// error (MemoryError).
Tensor to_tensor(py::array a, std::vector<py::array>* keep);
py::array to_numpy(Tensor t);
// The library's JSON form of a report, as a dict: the same keys as the CLI's --json.
py::object as_dict(const std::string& json_text);
// A statistics argument: a Stats object or the path of a statistics file.
BnInputStats stats_arg(const py::object& o);

// Each registers its part of the module.
void bind_model_tools(py::module_& m);  // inspect, fold, verify
void bind_session(py::module_& m);      // Session, Stats
void bind_analysis(py::module_& m);     // collect_stats, drift, recalibrate, audit

}  // namespace bnfold::python
