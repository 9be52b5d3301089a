#!/usr/bin/env bash
# The main job on a bundled model: set up (packages, build), then fold every
# BatchNormalization, verify the folded model against the original, and
# compare their speed with bnfold's own executor.
# Usage: tools/demo.sh [MODEL]   (default: models/tiny_resnet.onnx)
source "$(dirname "$0")/bootstrap.sh"
bnfold_install_packages
bnfold_build "$BNFOLD_ROOT/build" >/dev/null
model="${1:-$BNFOLD_ROOT/models/tiny_resnet.onnx}"
out="$BNFOLD_ROOT/build/demo/$(basename "${model%.onnx}")_folded.onnx"
mkdir -p "$(dirname "$out")"
"$BNFOLD_ROOT/build/bnfold" fold "$model" -o "$out" --verify --bench --bench-batch 1,32 \
  --report "${out%.onnx}_report.json"
