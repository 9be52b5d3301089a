#!/usr/bin/env bash
# Set up (packages, build) and run every test.
# Usage: tools/test.sh              Release build in build/, every test
#        tools/test.sh --sanitize   ASan+UBSan build (clang-14) of a static libbnfold in build-sanitize/, every test
#        tools/test.sh --isa        after the first: the C++ tests and the zoo's plan checks again with oneDNN
#                                   limited to AVX512_CORE and to AVX2 (ONEDNN_MAX_CPU_ISA), as on other CPUs
#        tools/test.sh --tsan       ThreadSanitizer build in build-tsan/, the concurrency tests
#        tools/test.sh --fuzz [S]   the libFuzzer targets of that same build-sanitize/; each target S seconds (60)
source "$(dirname "$0")/bootstrap.sh"
case "${1:-}" in
  --sanitize | --fuzz) bnfold_install_packages clang-14 libfuzzer-14-dev ;;
  *) bnfold_install_packages ;;
esac
# Sanitized builds: -O1 with line tables only (reports keep file:line) compiles
# in about half the time of -O2 -g, which is most of CI's time.
sanitizer_flags="-O1 -g1 -DNDEBUG"
# CTest runs two tests side by side on a 2-core machine, and most of them run
# OpenMP loops on 2 threads (bnfold's, oneDNN's, PyTorch's). Idle OpenMP
# threads spin before they sleep (libgomp: 300,000 turns; LLVM's libomp, which
# the clang builds run, 200 ms), taking the core the other test needs: with
# passive waiting the release CTest took 5.7 min instead of 9.9 (shift_study
# 114 -> 39-75 s, zoo_plans 121 -> 51-55 s). No test times anything. libomp also
# serves oneDNN's GOMP_ calls in the clang builds, and reads KMP_BLOCKTIME.
export OMP_WAIT_POLICY=PASSIVE KMP_BLOCKTIME=0
# The ASan build: clang, so that the same objects (with libFuzzer's coverage)
# serve the ASan tests and the fuzz targets; clang also compiles it in about
# 30% less time than GCC.
sanitize_build() {
  bnfold_build "$BNFOLD_ROOT/build-sanitize" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$sanitizer_flags" -DBNFOLD_SANITIZE=address -DBUILD_SHARED_LIBS=OFF
}
case "${1:-}" in
  --sanitize)
    dir="$BNFOLD_ROOT/build-sanitize"
    sanitize_build
    # Every test the build registers: those that check what plans look like, and
    # those that need the Python module (which cannot load into Debian's
    # python3 instrumented), are not (tests/CMakeLists.txt).
    ctest --test-dir "$dir" -j "$(nproc)" --no-tests=error --output-on-failure
    ;;
  --isa)
    # Which implementations oneDNN offers (and so which fusions a plan can
    # take) depends on the CPU: a test must hold whatever it offers.
    dir="$BNFOLD_ROOT/build"
    bnfold_build "$dir"
    for isa in AVX512_CORE AVX2; do
      echo "bnfold: the C++ tests with ONEDNN_MAX_CPU_ISA=$isa"
      ONEDNN_MAX_CPU_ISA=$isa "$dir/tests/bnfold_tests"
    done
    [ -f "$dir/zoo_small/resnet18.onnx" ] || ctest --test-dir "$dir" -R generate_zoo --no-tests=error
    /usr/bin/python3 "$BNFOLD_ROOT/tests/runtime/zoo_plans.py" "$dir/bnfold" "$dir/zoo_small" --isa AVX512_CORE
    ;;
  --tsan)
    dir="$BNFOLD_ROOT/build-tsan"
    # The concurrency tests are all in bnfold_tests: the CLI and the rest are not built here.
    BNFOLD_BUILD_TARGETS=bnfold_tests bnfold_build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$sanitizer_flags" -DBNFOLD_SANITIZE=thread -DBNFOLD_PYTHON=OFF
    TSAN_OPTIONS="suppressions=$BNFOLD_ROOT/tests/tsan.supp halt_on_error=1" \
      ctest --test-dir "$dir" -R "threads|one session|Server embedded" --no-tests=error --output-on-failure
    ;;
  --fuzz)
    dir="$BNFOLD_ROOT/build-sanitize"
    BNFOLD_BUILD_TARGETS=fuzz_targets sanitize_build
    /usr/bin/python3 "$BNFOLD_ROOT/tests/fuzz/run.py" --build "$dir" --seconds "${2:-60}"
    ;;
  *)
    dir="$BNFOLD_ROOT/build"
    bnfold_build "$dir"
    ctest --test-dir "$dir" -j "$(nproc)" --no-tests=error --output-on-failure
    ;;
esac
