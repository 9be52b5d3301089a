// What happened to every BatchNormalization node: folded into which node, or
// kept and why. Filled by the folding passes, printed by `bnfold fold`.
#pragma once

#include "graph/export.hpp"

#include <map>
#include <string>
#include <vector>

namespace bnfold BNFOLD_API {

struct BnFoldRow {
  std::string bn;           // the BN node's name (or "#index" when unnamed)
  std::string output;       // BN's output value: the key, and the name the fold keeps
  std::string producer_op;  // op before the BN ("graph input" when none)
  std::string consumer_ops; // ops after it, comma-separated
  // "folded" (into the producer), "folded forward" (into the consumer),
  // "scale-shift" (a precomputed per-channel Mul+Add), "kept" (a BN still).
  std::string action;
  std::string target;       // the node the BN went into, for folds
  std::string reason;       // why it was not folded into its neighbours
  // Filled by verification: max abs error at the fold's output (-1: not measured).
  double max_abs_error = -1;
  std::string measured_at;  // the value compared

  // "folded into conv_12", "kept as scale-shift: producer output has 2 consumers"
  std::string describe() const;
};

class FoldReport {
 public:
  // Creates the row of a BN (idempotent).
  BnFoldRow& row(const std::string& output);
  BnFoldRow* find(const std::string& output);
  // Records why one fold direction did not apply.
  void note(const std::string& output, const std::string& why);
  const std::vector<std::string>& order() const { return order_; }
  std::vector<BnFoldRow> rows() const;
  size_t count(const std::string& action) const;

 private:
  std::map<std::string, BnFoldRow> rows_;
  std::vector<std::string> order_;
};

}  // namespace bnfold
