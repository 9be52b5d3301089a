// Per-channel moments merged with Chan's parallel update: numerically
// stable, and partial results (batches, shards, threads) merge into exactly
// the result of one pass. Used by a monitoring Session and by the analyses.
#pragma once

#include "graph/export.hpp"

#include <cstdint>
#include <vector>

namespace bnfold BNFOLD_API {

struct ChannelMoments {
  int64_t count = 0;  // values per channel seen so far
  std::vector<double> mean, m2;  // per channel; m2 = sum of squared deviations
  void add(int64_t n, const std::vector<double>& batch_mean, const std::vector<double>& batch_var);
  void merge(const ChannelMoments& other);
  std::vector<double> variance() const;  // population (biased)
};

}  // namespace bnfold
