// Per-channel moments merged with Chan's parallel update: numerically
// stable, and partial results (batches, shards, threads) merge into exactly
// the result of one pass. Used by a monitoring Session and by the analyses.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bnfold BNFOLD_API {

struct ChannelMoments {
  int64_t count = 0;  // values per channel seen so far
  std::vector<double> mean, m2;  // per channel; m2 = sum of squared deviations
  void add(int64_t n, const std::vector<double>& batch_mean, const std::vector<double>& batch_var);
  void merge(const ChannelMoments& other);
  std::vector<double> variance() const;  // population (biased)
};

// The moments of every BatchNormalization input over some runs: what a
// monitoring Session gathers (MonitorSnapshot) and what the analyses save,
// load and merge (BnInputStats), so both are the same fields.
struct BnMoments {
  int64_t samples = 0;                           // batch items covered
  std::vector<std::string> order;                // BNs in plan order
  std::map<std::string, ChannelMoments> per_bn;  // by BN name
  // One run's statistics of one BN's input: `count` values per channel with
  // these means and biased variances (a BnStatsHook's argument).
  void add(const std::string& bn, int64_t count, const std::vector<double>& mean, const std::vector<double>& var);
  // Every BN of `other` merged in (its order taken when this has none);
  // samples are the caller's to count.
  void merge_moments(const BnMoments& other);
};

}  // namespace bnfold
