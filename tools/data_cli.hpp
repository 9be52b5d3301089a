// What audit, drift and recalibrate share on the command line: the model, the
// data and how to read it (images, labels, .npz keys), progress on stderr.
#pragma once

#include <string>
#include <vector>

#include "bnfold/analysis/dataset.hpp"
#include "bnfold/analysis/bn_moments.hpp"
#include "bnfold/graph/atomic_file.hpp"
#include "bnfold/graph/graph.hpp"

namespace CLI {
class App;
}

namespace bnfold::cli {

struct DataArgs {
  std::string model;
  std::vector<std::string> data;
  std::string labels, data_key, label_key;
  std::string size, mean, std_, order = "rgb", center_crop;
  int64_t resize = 0, limit = 0, every = 1;
  int64_t batch = 32;
  int threads = 0;
  bool json = false;
  std::string html;
};

// MODEL, --data (required or not), the image and label options, -b, -t, --json, --html.
void add_data_options(CLI::App* cmd, DataArgs& a, bool data_required);
// Reads the data set the options describe (`paths` instead of a.data, `labels`
// instead of a.labels when given: recalibrate's --eval-data); prints its
// description and notes on stderr.
Dataset load_data(const DataArgs& a, const Graph& g, const std::vector<std::string>* paths = nullptr,
                  const std::string* labels = nullptr);
// A progress bar on a terminal, plain lines (every 25%) otherwise; on stderr.
Progress progress_bar(const std::string& what);
// Output paths are checked before any work (a missing folder must not cost a
// pass over the data): --html and `outputs`, against the model, --data,
// --labels and `inputs`, and against each other (check_outputs_apart).
void check_outputs(const DataArgs& a, std::vector<NamedPath> outputs, std::vector<NamedPath> inputs = {});

}  // namespace bnfold::cli
