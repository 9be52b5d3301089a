// Where a model's BatchNormalization meets data: drift of production data
// from the statistics the model learned, re-estimating those statistics
// (AdaBN), and the train/inference audit. The CLI's drift, recalibrate and
// audit commands only call these.
#pragma once

#include "bnfold/graph/export.hpp"

#include <memory>
#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"
#include "bnfold/analysis/bn_moments.hpp"
#include "bnfold/analysis/dataset.hpp"
#include "bnfold/analysis/precision_check.hpp"

namespace bnfold BNFOLD_API {

// BnStats and these reports name a BN node by node_name() (graph/graph.hpp).

// ---------------------------------------------------------------- drift
// Each layer's data is compared with a reference: a baseline (statistics of
// in-distribution data, from `drift --save-stats`) or, without one, the
// model's running statistics. The distance is the mean over channels of the
// symmetric KL divergence between the two per-channel Gaussians; it does not
// depend on the layer's scale. Sampling alone gives about
// noise = 2 (1/n + 1/n_ref) per channel (n in samples; n_ref infinite for the
// running statistics), so ratio = distance / noise compares layers and data
// sets of any size. A layer drifted when ratio > threshold and distance >
// min_effect (a change too small to matter is not drift, however many
// samples prove it).
struct DriftOptions {
  const BnInputStats* baseline = nullptr;
  int64_t min_samples = 30;  // fewer: DriftVerdict::TooFewSamples
  double threshold = 4;      // ratio above which a layer drifted
  // Distance a drift must reach; < 0: 0.25 (a mean moved by 0.5 sd, or a
  // variance doubled or halved), against a baseline as against the running
  // statistics. Calibrated by the shift study (shift_study.hpp) on the two
  // bundled factory models: every shift that cost more than 5 points of
  // accuracy reached 0.45 or more, while 0.02 (the earlier default with a
  // baseline) called 26 of 29 harmless shifts "drifted". `shift-study`
  // suggests the value for a given model.
  double min_effect = -1;
};
struct LayerDrift {
  std::string bn;
  int64_t channels = 0;
  double score = 0;            // distance from the running statistics
  double baseline_score = -1;  // the baseline's own distance from them; -1 without a baseline
  double distance = 0;         // from the reference (the baseline, or the running statistics)
  double noise = 0;            // what sampling alone gives
  double ratio = 0;            // distance / noise
  bool drifted = false;
  double shifted_share = 0;    // channels whose mean moved more than 3 reference sigma
  double var_shift_share = 0;  // channels whose variance ratio leaves [0.5, 2]
  double mean_shift_sigma = 0; // mean over channels of |data mean - reference mean| / reference sigma
  double var_ratio = 0;        // mean over channels of data var / reference var
};
enum class DriftVerdict { InDistribution, Drifted, TooFewSamples };
// "in-distribution", "drifted", "too-few-samples": the words of the reports and --json.
const char* to_string(DriftVerdict verdict);

struct DriftReport {
  std::vector<LayerDrift> layers;  // in model order
  double max_score = 0, mean_score = 0;
  int64_t samples = 0, baseline_samples = 0;
  std::string reference;          // "baseline" or "running statistics"
  double threshold = 0, min_effect = 0;
  int64_t min_samples = 0;
  DriftVerdict verdict = DriftVerdict::InDistribution;
  std::vector<std::string> deciding;  // the layers that decide it, ranked by ratio
  std::vector<std::string> summary;   // plain-language lines, the verdict first
  // Where it came from (drift_model fills these; compute_drift alone leaves them empty).
  std::string model, model_sha256;    // the model judged against: its name and file's SHA-256
  std::string time;                   // when the verdict was made, ISO 8601 UTC
  StatsProvenance data, baseline;     // of the statistics judged and of the baseline
};
// Throws InvalidArgument for options no front end may pass (NaN or
// non-positive threshold, NaN min_effect, negative min_samples);
// compute_drift checks them itself, so every front end gets the same check.
void check_drift_options(const DriftOptions& options);
DriftReport compute_drift(const Graph& graph, const BnInputStats& stats, const DriftOptions& options = {});

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
  // From statistics collected beforehand in one inference pass of the
  // original model (merged shards): each BN gets the moments its input had
  // there. Exact for BNs with no other BN upstream; a deeper BN's input was
  // measured under the old upstream statistics (Sequential redoes that pass
  // per level), as update_bn measures it under batch statistics.
  FromStatistics,
};
const char* recalibration_mode_name(RecalibrationMode m);
// The modes as the CLI, Python and C take them: "sequential" or "update-bn".
RecalibrationMode parse_recalibration_mode(const std::string& name);
// Gives node input k new constant data: in place when the node alone reads
// it, under the same name when an Identity/Constant node feeds the node alone
// (the node goes), else as a new constant.
void replace_constant(Graph& g, Node* n, size_t k, Tensor data);

struct RecalibratedLayer {
  std::string bn;
  double mean_shift_sigma = 0;  // |new mean - old mean| / old sigma, mean over channels
  double var_ratio = 0;         // new var / old var, mean over channels
};
struct RecalibrationReport {
  RecalibrationMode mode = RecalibrationMode::Sequential;
  bool unbiased_var = false;  // the stored variance: unbiased (n-1, PyTorch's running_var) or population
  double prior = 0;           // pseudo-count N of the model's statistics in the mix (0: replaced)
  std::vector<RecalibratedLayer> layers;
  int64_t samples = 0, passes = 0;
};
// Replaces every inference BN's running statistics in `graph` by estimates
// from the data (in place where the BN alone uses them, else as new constants).
// Sequential stores the population variance, which is what normalizes the data
// exactly, unless unbiased_var; UpdateBn always stores PyTorch's unbiased one.
// Sets each inference BN's running statistics from `stats` (matched by name;
// throws when a BN has none or the channel counts differ).
// prior > 0 keeps the model's statistics as N = prior pseudo-samples beside
// the data's n samples (Schneider et al. 2020, "Improving robustness against
// common corruptions by covariate shift adaptation"): mean = (N mean_model +
// n mean_data) / (N + n), variance the mixture's (each part's variance plus
// its mean's squared distance from the mixed mean). What helps when the data
// is a few samples; 0 replaces the statistics.
RecalibrationReport recalibrate_from_stats(Graph& graph, const BnInputStats& stats, bool unbiased_var,
                                           double prior = 0);
RecalibrationReport recalibrate(Graph& graph, const Dataset& data, RecalibrationMode mode, int64_t batch,
                                int threads, const Progress& progress = {}, bool unbiased_var = false,
                                double prior = 0);
// Throws unless 0 <= prior < infinity.
void check_recalibration_prior(double prior);

}  // namespace bnfold

namespace bnfold BNFOLD_API {

// ---------------------------------------------------------------- audit
struct AuditOptions {
  std::vector<int64_t> batch_sizes = {1, 2, 4, 8, 32};
  double tolerance = 0.05;  // relative L2 below which the two modes "agree"
  int64_t ablation_samples = 32;  // samples of the ablation (each BN alone in train mode); 0: none
  // Reduced precisions to compare with float32 inference on the same data:
  // "bf16" (the model run in bfloat16), "int8" (an int8 QDQ model of it,
  // ranges calibrated on the data). Checked before any run.
  std::vector<std::string> precisions;
  int threads = 0;
  Progress progress;  // over all the runs the audit makes
};
struct OutputDivergence {
  int64_t batch = 0;
  std::string output;
  double max_abs = 0, rel_l2 = 0, cosine = 1;
  double argmax_agreement = -1;  // share of samples with the same top class; -1: not class scores
};
// Accuracy per batch size, on the samples a pass at that size covers. -1: not
// measured (no labels, or fewer than 5 classes for top-5).
struct BatchAccuracy {
  int64_t batch = 0, samples = 0;
  double top1_agreement = -1;  // batch statistics vs inference, top class
  double inference_top1 = -1, inference_top5 = -1;
  double batch_stats_top1 = -1, batch_stats_top5 = -1;
};
struct LayerShift {
  std::string bn;
  int64_t batch = 0;            // the batch size this row was measured at
  int64_t values = 0;           // values per channel a batch of this size normalizes
  double mean_shift_sigma = 0;  // batch vs running mean, in running sigma, mean over channels and batches
  double var_ratio = 0;         // batch var / running var
};
// One BN alone in batch-statistics mode (every other in inference mode).
struct Ablation {
  std::string bn;
  double rel_l2 = 0;            // of the outputs against inference (the largest over outputs)
  double top1_agreement = -1;   // with inference; -1: not class scores
  double accuracy = -1;         // top-1 accuracy on the ablation's samples; -1: no labels
  std::string why;              // "normalizes one value per channel", "batch variance 0.2x running", ...
};
struct AuditReport {
  int64_t samples = 0;
  std::vector<int64_t> batch_sizes;                       // those the data allowed
  std::vector<int64_t> skipped_batch_sizes;               // asked for, larger than the data (said in the verdict)
  std::vector<OutputDivergence> divergence;               // batch statistics vs inference
  std::string scores_output;                              // the class scores, empty when none
  int64_t classes = 0;
  bool labeled = false;
  double accuracy_inference = -1, top5_inference = -1;    // over every sample
  std::vector<BatchAccuracy> accuracy;                    // per batch size
  std::vector<LayerShift> layers;                         // per batch size, in model order
  std::vector<std::string> degenerate_at_batch_1;         // BNs that reduce one value per channel at batch 1
  int64_t ablation_batch = 0, ablation_samples = 0;
  double ablation_accuracy_inference = -1;                // on the ablation's samples, all BNs in inference mode
  std::vector<Ablation> ablation;                         // ranked, the most harmful first (see blame_rule)
  std::string blame_rule;                                 // how the ablation is ranked and who is to blame
  std::vector<std::string> culprits;                      // the BNs the verdict blames, ranked
  std::vector<std::pair<int64_t, double>> invariance;     // inference: max abs, sample alone vs in a batch
  double fold_max_abs = -1, fold_scale = 0;               // unfolded vs folded, inference
  std::string fold_summary;
  int64_t agree_from_batch = -1;                          // -1: at none of the sizes
  std::vector<std::string> verdict;                       // plain-language lines; the first answers the question
  std::vector<PrecisionCheck> precisions;                 // AuditOptions::precisions, in that order
};
class AnalysisModel;  // analysis/analysis_model.hpp: a model prepared for analysis
AuditReport audit(const AnalysisModel& model, const Dataset& data, const AuditOptions& options);
// Throws unless each of AuditOptions::precisions is known and this CPU runs
// it (audit checks first too; a front end may check before reading data).
void check_audit_precisions(const std::vector<std::string>& precisions);

}  // namespace bnfold
