#!/usr/bin/env bash
# Set up (packages, build) and run every test.
# Usage: tools/test.sh              Release build in build/, every test
#        tools/test.sh --sanitize   ASan+UBSan build of a static libbnfold in build-sanitize/, every test
#        tools/test.sh --tsan       ThreadSanitizer build in build-tsan/, the concurrency tests
source "$(dirname "$0")/bootstrap.sh"
bnfold_install_packages
case "${1:-}" in
  --sanitize)
    dir="$BNFOLD_ROOT/build-sanitize"
    bnfold_build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBNFOLD_SANITIZE=address -DBUILD_SHARED_LIBS=OFF
    ctest --test-dir "$dir" -j "$(nproc)" --output-on-failure
    ;;
  --tsan)
    dir="$BNFOLD_ROOT/build-tsan"
    bnfold_build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBNFOLD_SANITIZE=thread -DBNFOLD_PYTHON=OFF
    TSAN_OPTIONS="suppressions=$BNFOLD_ROOT/tests/tsan.supp halt_on_error=1" \
      ctest --test-dir "$dir" -R "threads|one session" --output-on-failure
    ;;
  *)
    dir="$BNFOLD_ROOT/build"
    bnfold_build "$dir"
    ctest --test-dir "$dir" -j "$(nproc)" --output-on-failure
    ;;
esac
