// Per-channel statistics of every BatchNormalization's input over a data set,
// accumulated with Chan's parallel update (numerically stable, and partial
// results from shards merge into exactly the result of one pass).
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bnfold/analysis/dataset.hpp"
#include "bnfold/runtime/moments.hpp"
#include "bnfold/runtime/session.hpp"

namespace bnfold BNFOLD_API {

// The file (JSON, format "bnfold-bn-input-stats" version 2) carries a
// SHA-256 of its contents (a file edited or damaged after it was written is
// refused) and the BN signature: a digest of the BNs' names and channel
// counts, the same for a model and its folded form, so statistics of another
// model are recognized by it.
// Where statistics came from, carried in their files and in drift reports so
// that windows and fleet views need no bookkeeping of their own (all
// optional: files written without them still load).
struct StatsProvenance {
  std::string model_sha256;                     // of the model's file; "" unknown, "mixed" after merging two
  std::string collected_from, collected_until;  // ISO 8601 UTC of the earliest and the latest part
  std::vector<std::string> sources;             // what was measured: data paths, arrays, a monitoring session
  bool empty() const { return model_sha256.empty() && collected_from.empty() && collected_until.empty() && sources.empty(); }
  void merge(const StatsProvenance& other);
};

struct BnInputStats : BnMoments {
  std::string model;                             // the model they were collected for
  StatsProvenance provenance;
  void merge(const BnInputStats& other);         // throws if the BNs differ
  void save(const std::string& path) const;      // JSON
  static BnInputStats load(const std::string& path);
  std::string to_json() const;  // the file's text
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

// Accumulates every BN input's statistics over batches fed one at a time
// (from any source: a data set, arrays, a stream), in inference mode, with
// one session for all of them. Not thread-safe; one per thread.
class BnStatsCollector {
 public:
  BnStatsCollector(std::shared_ptr<const Graph> graph, int threads);
  ~BnStatsCollector();
  // A batch [N, ...] for the model's one input.
  void add(const Tensor& batch);
  // What the batches so far gave (throws when the model has no BN to measure).
  BnInputStats stats() const;
  const Session& session() const { return *session_; }

 private:
  std::unique_ptr<Session> session_;
  BnInputStats stats_;
};

// Runs the data through the graph in inference mode, batch by batch, and
// accumulates every BN input's statistics.
BnInputStats collect_bn_input_stats(std::shared_ptr<const Graph> graph, const Dataset& data, int64_t batch,
                                    int threads, const Progress& progress = {});

}  // namespace bnfold
