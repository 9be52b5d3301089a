// The Python module's data arguments: paths (as the CLI's -d), one numpy
// array (a batch [N, ...] or one sample), or an iterable of arrays; with the
// CLI's preprocessing and selection options (images, .npz keys, labels,
// --limit, --sample-every).
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "bnfold/analysis/analysis_model.hpp"
#include "bnfold/analysis/bn_moments.hpp"
#include "bnfold/analysis/dataset.hpp"
#include "bnfold/graph/atomic_file.hpp"
#include "bnfold/graph/graph.hpp"

namespace bnfold::python {

struct DataArgs {
  pybind11::object labels = pybind11::none();  // a path, "subfolders", an integer array, or None
  std::string data_key, label_key;
  int64_t limit = 0, sample_every = 1;
  std::vector<int64_t> size, center_crop;  // images: {H, W}
  int64_t resize = 0;
  std::vector<float> mean, std;
  std::string channel_order = "rgb";
};

// True for a str or a non-empty list of str.
bool is_paths(const pybind11::handle& data);
// The paths `data` names (a str, or the str items of a list), each named
// `what`, appended to `to`: the inputs check_outputs_apart checks outputs against.
void add_paths(std::vector<NamedPath>& to, const pybind11::handle& data, const char* what);

// The whole data set (audit and recalibrate read it more than once). Arrays
// are copied into one float32 tensor; `what` names it in errors.
Dataset dataset_of(const Graph& g, const std::string& model, const pybind11::object& data, const DataArgs& a,
                   const std::string& what = "data");

// BN input statistics over the data: from paths batch by batch, from arrays
// and iterables as they come (an iterable is never held whole).
BnInputStats stats_of(const AnalysisModel& model, const pybind11::object& data, const DataArgs& a, int64_t batch,
                      int threads);

}  // namespace bnfold::python
