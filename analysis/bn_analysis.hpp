// Where a model's BatchNormalization meets data: drift of production data
// from the statistics the model learned, re-estimating those statistics
// (AdaBN), and the train/inference audit. The CLI's drift, recalibrate and
// audit commands only call these.
#pragma once

#include "graph/export.hpp"

#include <memory>
#include <string>
#include <vector>

#include "graph/graph.hpp"
#include "analysis/bn_moments.hpp"
#include "analysis/dataset.hpp"

namespace bnfold BNFOLD_API {

// BnStats and these reports name a BN node by node_name() (graph/graph.hpp).

// ---------------------------------------------------------------- drift
struct LayerDrift {
  std::string bn;
  int64_t channels = 0;
  // Mean over channels of the symmetric KL divergence between N(data mean,
  // data var) and N(running mean, running var + eps).
  double score = 0;
  double shifted_share = 0;    // channels whose mean moved more than 3 running sigma
  double mean_shift_sigma = 0; // mean over channels of |data mean - running mean| / running sigma
  double var_ratio = 0;        // mean over channels of data var / running var
};
struct DriftReport {
  std::vector<LayerDrift> layers;  // in model order
  double max_score = 0, mean_score = 0;
  int64_t samples = 0;
};
DriftReport compute_drift(const Graph& graph, const BnInputStats& stats);

// ---------------------------------------------------------------- recalibrate
enum class RecalibrationMode {
  // PyTorch's torch.optim.swa_utils.update_bn: one pass in train mode (each
  // BN normalized by its batch's statistics); running mean = average of the
  // batch means, running var = average of the unbiased batch variances.
  UpdateBn,
  // Each BN's statistics are those of its input in inference mode over the
  // whole data, with every earlier BN already recalibrated: exactly what
  // inference will see. One pass per dependency level.
  Sequential,
};
const char* recalibration_mode_name(RecalibrationMode m);

struct RecalibratedLayer {
  std::string bn;
  double mean_shift_sigma = 0;  // |new mean - old mean| / old sigma, mean over channels
  double var_ratio = 0;         // new var / old var, mean over channels
};
struct RecalibrationReport {
  RecalibrationMode mode = RecalibrationMode::Sequential;
  std::vector<RecalibratedLayer> layers;
  int64_t samples = 0, passes = 0;
};
// Replaces every inference BN's running statistics in `graph` (with new
// constants) by estimates from the data.
RecalibrationReport recalibrate(Graph& graph, const Dataset& data, RecalibrationMode mode, int64_t batch,
                                int threads, const Progress& progress = {});

}  // namespace bnfold

namespace bnfold BNFOLD_API {

// ---------------------------------------------------------------- audit
struct AuditOptions {
  std::vector<int64_t> batch_sizes = {1, 2, 4, 8, 32};
  double tolerance = 0.05;  // relative L2 below which the two modes "agree"
  int threads = 0;
  Progress progress;  // over all the runs the audit makes
};
struct OutputDivergence {
  int64_t batch = 0;
  std::string output;
  double max_abs = 0, rel_l2 = 0, cosine = 1;
  double argmax_agreement = -1;  // share of samples with the same top class; -1: not class scores
};
struct LayerShift {
  std::string bn;
  double mean_shift_sigma = 0;  // batch vs running mean, in running sigma, mean over channels and batches
  double var_ratio = 0;         // batch var / running var
};
struct AuditReport {
  int64_t samples = 0;
  std::vector<int64_t> batch_sizes;                       // those the data allowed
  std::vector<OutputDivergence> divergence;               // batch statistics vs inference
  std::vector<LayerShift> layers;                         // at the largest batch size
  std::vector<std::string> degenerate_at_batch_1;         // BNs that reduce one value per channel at batch 1
  std::vector<std::pair<int64_t, double>> invariance;     // inference: max abs, sample alone vs in a batch
  double fold_max_abs = -1, fold_scale = 0;               // unfolded vs folded, inference
  std::string fold_summary;
  int64_t agree_from_batch = -1;                          // -1: at none of the sizes
  std::vector<std::string> verdict;                       // plain-language lines
};
AuditReport audit(std::shared_ptr<const Graph> graph, const Dataset& data, const AuditOptions& options);

}  // namespace bnfold
