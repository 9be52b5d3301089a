#!/usr/bin/env bash
# Set up (packages, build) and run every test.
# Usage: tools/test.sh              Release build in build/
#        tools/test.sh --sanitize   ASan+UBSan build in build-sanitize/
source "$(dirname "$0")/bootstrap.sh"
bnfold_install_packages
if [ "${1:-}" = "--sanitize" ]; then
  dir="$BNFOLD_ROOT/build-sanitize"
  bnfold_build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBNFOLD_SANITIZE=ON
else
  dir="$BNFOLD_ROOT/build"
  bnfold_build "$dir"
fi
ctest --test-dir "$dir" -j "$(nproc)" --output-on-failure
