#!/usr/bin/env bash
# The main job on a bundled model: set up (packages, build), inspect it and run it.
# Usage: tools/demo.sh [MODEL]   (default: models/tiny_resnet.onnx)
source "$(dirname "$0")/bootstrap.sh"
bnfold_install_packages
bnfold_build "$BNFOLD_ROOT/build" >/dev/null
model="${1:-$BNFOLD_ROOT/models/tiny_resnet.onnx}"
"$BNFOLD_ROOT/build/bnfold" inspect "$model"
echo
"$BNFOLD_ROOT/build/bnfold" run "$model" --batch 4 --output-dir "$BNFOLD_ROOT/build/demo-outputs"
