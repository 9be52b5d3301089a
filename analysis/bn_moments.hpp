// Per-channel statistics of every BatchNormalization's input over a data set,
// accumulated with Chan's parallel update (numerically stable, and partial
// results from shards merge into exactly the result of one pass).
#pragma once

#include "graph/export.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "analysis/dataset.hpp"
#include "runtime/moments.hpp"
#include "runtime/session.hpp"

namespace bnfold BNFOLD_API {

// The file (JSON, format "bnfold-bn-input-stats" version 2) carries a
// SHA-256 of its contents (a file edited or damaged after it was written is
// refused) and the BN signature: a digest of the BNs' names and channel
// counts, the same for a model and its folded form, so statistics of another
// model are recognized by it.
struct BnInputStats {
  std::string model;                             // the model they were collected for
  int64_t samples = 0;
  std::vector<std::string> order;                // BNs in plan order
  std::map<std::string, ChannelMoments> per_bn;  // by BN name
  void merge(const BnInputStats& other);         // throws if the BNs differ
  void save(const std::string& path) const;      // JSON
  static BnInputStats load(const std::string& path);
  // The same from the file's text; `what` names it in errors.
  static BnInputStats parse(const std::string& text, const std::string& what);
  std::string bn_signature() const;  // 16 hex digits
};

// The signature of BNs with these channel counts, by name.
std::string bn_signature_of(const std::map<std::string, size_t>& channels);

using Progress = std::function<void(int64_t done, int64_t total)>;

// What a monitoring Session gathered, as the statistics `drift --save-stats`
// writes (save, merge, compare with compute_drift); `model` names the model.
BnInputStats stats_from_monitor(const MonitorSnapshot& snapshot, const std::string& model = "");

// Runs the data through the graph in inference mode, batch by batch, and
// accumulates every BN input's statistics.
BnInputStats collect_bn_input_stats(std::shared_ptr<const Graph> graph, const Dataset& data, int64_t batch,
                                    int threads, const Progress& progress = {});

}  // namespace bnfold
