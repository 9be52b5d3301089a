// What `fold` leaves behind of each BatchNormalization it removed, so that a
// folded model can still be monitored for drift: which value of the folded
// graph carries the BN's input (measured as is) or its output (measured and
// mapped back through the BN's affine map), and the BN's parameters and
// running statistics. Stored in the model's metadata_props under
// kFoldedBnsKey (JSON), so it survives export, other runtimes ignore it, and
// it costs nothing at inference.
#pragma once

#include "bnfold/graph/export.hpp"

#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"

namespace bnfold BNFOLD_API {

inline constexpr const char* kFoldedBnsKey = "bnfold.folded_batchnorms";

struct FoldedBn {
  std::string bn;        // the BN node's node_name() in the model before folding
  std::string value;     // the value of the folded graph to measure
  bool output = false;   // true: value is the BN's output y = s (x - mean) + beta, s = gamma / sqrt(var + eps);
                         // false: value is the BN's input x itself
  double epsilon = 1e-5;
  std::vector<float> gamma, beta, mean, var;  // per channel, as the BN had them
  int64_t channels() const { return static_cast<int64_t>(mean.size()); }
};

// The records in g's metadata (none when absent). Throws InvalidArgument
// when the entry is malformed.
std::vector<FoldedBn> folded_bns(const Graph& g);
// Replaces the entry (removes it when `bns` is empty).
void set_folded_bns(Graph& g, const std::vector<FoldedBn>& bns);

// metadata_props helpers: the value of `key` (nullptr when absent); set or replace it.
const std::string* metadata_value(const Graph& g, const std::string& key);
void set_metadata(Graph& g, const std::string& key, const std::string& value);

}  // namespace bnfold
