// Proving a folded model computes the same function as the original: runs
// both on the same inputs and compares every output and the value right
// after each fold. What `bnfold fold --verify` does, as a library call.
#pragma once

#include "graph/export.hpp"

#include <map>
#include <string>
#include <vector>

#include "graph/graph.hpp"
#include "passes/fold_report.hpp"

namespace bnfold BNFOLD_API {

struct VerifyOptions {
  std::map<std::string, Tensor> inputs;  // inputs not given are random
  int64_t batch = 2;                     // batch size of random inputs
  uint64_t seed = 0;
  double rtol = 1e-4;
  // Absolute tolerance; negative: 1e-4 x the largest |value| of each output
  // of the original. Float32 rounding in a deep network reaches ~1e-5 of the
  // output's scale whatever is folded, and a fixed atol fails near-zero
  // elements of large outputs for that noise alone.
  double atol = -1;
  int threads = 0;
};

struct ValueCheck {
  std::string name;
  double max_abs = 0, max_rel = 0;
  double scale = 0;  // largest |value| in the original
  double atol = 0;   // the absolute tolerance applied
  int64_t mismatches = 0;  // elements beyond atol + rtol * |original|
};

struct VerifyResult {
  std::vector<ValueCheck> outputs;  // every graph output
  std::vector<ValueCheck> folds;    // the output of each fold (also written into the report)
  bool ok = true;                   // no output beyond tolerance
};

// Runs the original and the folded graph on the same inputs and compares
// every output, and the value right after each fold (the BN's output, or the
// output of the layer a BN was folded forward into).
VerifyResult verify_fold(const Graph& original, const Graph& folded, FoldReport* report,
                         const VerifyOptions& options = {});

}  // namespace bnfold
