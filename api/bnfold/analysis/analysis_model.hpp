// A model prepared for BatchNormalization analysis, as a type: drift,
// recalibration and the audit take an AnalysisModel, which is made only by
// preparing, so no front end can hand them a graph it forgot to prepare.
#pragma once

#include "bnfold/graph/export.hpp"

#include <memory>
#include <string>
#include <vector>

#include "bnfold/analysis/dataset.hpp"
#include "bnfold/graph/graph.hpp"
#include "bnfold/runtime/session.hpp"

namespace bnfold BNFOLD_API {

// PyTorch's exporter shares equal initializers through Identity nodes (a
// fresh model's BNs all have mean 0, var 1); constant folding and dead-code
// removal give every BN its own constant parameters again, which the analyses
// read. The original is kept too: recalibration writes it back with new
// statistics and nothing else changed.
class AnalysisModel {
 public:
  // Loads the ONNX file once; `path` names the model in reports and errors,
  // and the file's SHA-256 goes into the statistics and reports made with it.
  static AnalysisModel load(const std::string& path);
  // Prepares a copy of `original` (which is kept, unchanged).
  AnalysisModel(std::shared_ptr<const Graph> original, std::string name);

  const Graph& graph() const { return *prepared_; }                        // prepared
  const std::shared_ptr<const Graph>& shared() const { return prepared_; }  // prepared
  const std::shared_ptr<const Graph>& original() const { return original_; }
  // A mutable copy of the prepared graph (collecting statistics and
  // recalibrating need one of their own).
  std::shared_ptr<Graph> copy() const;
  const std::string& name() const { return name_; }
  const std::string& sha256() const { return sha256_; }  // of the file it was loaded from; "" otherwise
  // BatchNormalization nodes the original has in training mode (they
  // normalize with batch statistics). The prepared graph has them in
  // inference mode (the "eval-mode" pass), so that the analyses compare data
  // with the running statistics they carry; the audit says so.
  int training_bns() const { return training_bns_; }

 private:
  std::shared_ptr<const Graph> original_, prepared_;
  std::string name_, sha256_;
  int training_bns_ = 0;
};

// What a user may say about the data beyond the files (images only).
struct ImageOptions {
  std::vector<int64_t> size;        // {H, W} the user expects; empty: the model's
  int64_t resize = 0;               // shorter side first resized to this, then centre-cropped
  std::vector<int64_t> crop;        // {H, W} of that crop: must be the model's; empty: the model's
  std::vector<float> mean, std;     // per channel; empty: 0 and 1
  bool bgr = false;
};
// The data options for the model's one required input: its dtype and the
// dims of one sample, which must be fixed (only the batch dim may be free).
// Throws naming the model (`what`) and the input otherwise.
DataOptions data_options_for(const Graph& graph, const std::string& what, const ImageOptions& images = {});

// Names as the CLI, Python and C take them; throw listing the valid ones.
BnMode parse_bn_mode(const std::string& name);  // "inference" or "batch"
const char* bn_mode_name(BnMode mode);

}  // namespace bnfold
