// What happened to every BatchNormalization node: folded into which node, or
// kept and why. Filled by the folding passes, printed by `bnfold fold`.
#pragma once

#include "bnfold/graph/export.hpp"

#include <map>
#include <string>
#include <vector>

namespace bnfold BNFOLD_API {

class Node;

// What became of one BatchNormalization.
enum class FoldAction {
  Kept,           // still a BatchNormalization
  Folded,         // into the layer that produces its input
  FoldedForward,  // into the layer that consumes its output
  ScaleShift,     // a precomputed per-channel Mul+Add
};
// "kept", "folded", "folded forward", "scale-shift": the one spelling, for
// reports and JSON.
const char* to_string(FoldAction action);

struct BnFoldRow {
  std::string bn;           // the BN node's name (or "#index" when unnamed)
  std::string output;       // BN's output value: the key, and the name the fold keeps
  std::string producer_op;  // op before the BN ("graph input" when none)
  std::string consumer_ops; // ops after it, comma-separated
  FoldAction action = FoldAction::Kept;
  // For folds: the node the BN went into, in the graph the report was made
  // on (valid while that graph lives unchanged), and its name for display.
  const Node* target_node = nullptr;
  std::string target;
  std::string reason;       // why it was not folded into its neighbours
  // Filled by verification: max abs error at the fold's output against the
  // reference, all folds applied (-1: not measured), and the error this fold
  // adds alone, every other BN unfolded (-1: not measured).
  double max_abs_error = -1;
  double isolated_error = -1;
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
  size_t count(FoldAction action) const;
  size_t folded() const { return count(FoldAction::Folded) + count(FoldAction::FoldedForward); }

 private:
  std::map<std::string, BnFoldRow> rows_;
  std::vector<std::string> order_;
};

}  // namespace bnfold
