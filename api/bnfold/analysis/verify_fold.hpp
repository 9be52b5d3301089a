// Proving a folded model computes the same function as the original. Both
// run in float32 on the same inputs and are measured against the original
// evaluated in float64 by the reference kernels: a fold passes where its
// error is within tolerance, or within a factor of the original's own
// float32 error (its noise floor) at the same place. What `bnfold fold
// --verify` and `bnfold verify` do, as a library call.
#pragma once

#include "bnfold/graph/export.hpp"

#include <map>
#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"
#include "bnfold/passes/fold_report.hpp"

namespace bnfold BNFOLD_API {

// The absolute tolerance of a value whose reference is zero everywhere.
constexpr double kAtolFloor = 1e-12;

struct VerifyOptions {
  std::map<std::string, Tensor> inputs;  // inputs not given are random, data-like (analysis/verify_inputs.hpp)
  int64_t batch = 2;                     // batch size of random inputs
  uint64_t seed = 0;
  std::vector<double> mean, std;         // per channel of random inputs (empty: estimated)
  double rtol = 1e-4;
  // Absolute tolerance; negative: 1e-4 x the largest |value| of each output
  // of the reference (kAtolFloor where that is 0). Float32 rounding in a deep
  // network reaches ~1e-5 of the output's scale whatever is folded, and a
  // fixed atol fails near-zero elements of large outputs for that noise alone.
  double atol = -1;
  // A value also passes when the folded model's max abs error there is at
  // most noise_factor x the original float32 model's own max abs error there
  // (both against float64): a fold's rounding cannot be told from float32's
  // below that floor. 4 leaves room for the fold's own rounding (a folded
  // weight is rounded once more) and for where each run's errors happen to fall.
  double noise_factor = 4;
  // Evaluate the original in float64 (reference kernels; slower). false:
  // compare with the float32 original only.
  bool float64_reference = true;
  // Measure each fold alone (every other BN unfolded) too.
  bool isolated = true;
  // Compare the graph outputs only (an equalized model's values between
  // layers are rescaled per channel by design).
  bool outputs_only = false;
  int threads = 0;
};

struct ValueCheck {
  std::string name;
  double max_abs = 0, max_rel = 0;  // the folded float32 model against the reference
  double noise = -1;                // the original float32 model against the float64 reference (-1: none)
  double scale = 0;                 // largest |value| in the reference
  double atol = 0;                  // the absolute tolerance applied
  int64_t mismatches = 0;           // elements beyond atol + rtol * |reference|
  bool ok = true;
  // "within tolerance", "identical to the original (...)", "within 4x the
  // original's float32 noise", "FAIL: ..."; non-finite errors never pass by
  // the noise floor.
  std::string verdict;
  // Folds only: the error this fold adds alone (its layer run on the
  // original float32 values, every other BN unfolded), against the original
  // float32 value; -1 when not measured.
  double isolated = -1;
};

struct VerifyResult {
  std::vector<ValueCheck> outputs;  // every graph output
  std::vector<ValueCheck> folds;    // the output of each fold (also written into the report)
  bool ok = true;                   // every output and every fold passes
  std::string reference;            // what the errors are measured against
  std::string inputs;               // how the inputs were made
  bool inputs_given = false;        // all were the caller's (no random batch)
  double noise_factor = 0;
};

// Runs the original and the folded graph on the same inputs and compares
// every output, and the value right after each fold (the BN's output, or the
// output of the layer a BN was folded forward into). Without a report, the
// values compared besides the outputs are the outputs of the original's
// BatchNormalization nodes that the folded graph also has.
VerifyResult verify_fold(const Graph& original, const Graph& folded, FoldReport* report,
                         const VerifyOptions& options = {});

}  // namespace bnfold
