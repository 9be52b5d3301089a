// What a BatchNormalization node means, across its opset versions: the one
// place that knows that opset < 7 says `is_test`, 7-13 signal training by the
// extra outputs, and 14+ says `training_mode`.
#pragma once

#include "graph/export.hpp"

#include <string>

#include "graph/graph.hpp"

namespace bnfold BNFOLD_API {

struct BatchNormAttrs {
  double epsilon = 1e-5;
  double momentum = 0.9;
  bool training = false;       // normalizes with batch statistics
  std::string training_why;    // "training_mode=1", "is_test=0", ... (empty when not training)
  bool spatial = true;         // opset < 9 `spatial`=0 means per-activation statistics
  bool optional_outputs_used;  // running/saved mean/var outputs consumed or exported
};

BatchNormAttrs batchnorm_attrs(const Node& bn);

}  // namespace bnfold
