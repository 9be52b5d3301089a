#!/usr/bin/env bash
# Installs bnfold into a temporary prefix; checks the installed headers are
# exactly api/bnfold/'s (and the generated version.hpp) and that each compiles
# alone with nothing but the prefix's include folder; builds the examples
# against the installed package: C++ with find_package(bnfold) and with
# pkg-config, C with pkg-config; runs them and checks what they print.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
src="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
model="$src/models/tiny_resnet.onnx"
fail=0
expect() {  # expect NAME PATTERN OUTPUT
  if grep -q "$2" <<<"$3"; then echo "ok: $1"; else echo "FAIL: $1"; echo "$3"; fail=1; fi
}

installed="$(cd "$prefix/include/bnfold" && find . -type f | sort)"
public="$( (cd "$src/api/bnfold" && find . -type f \( -name '*.hpp' -o -name '*.h' \); echo ./version.hpp) | sort)"
if [ "$installed" = "$public" ]; then
  echo "ok: the installed headers are exactly api/bnfold/ ($(wc -l <<<"$installed") files)"
else
  echo "FAIL: installed headers differ from api/bnfold/:"; diff <(echo "$public") <(echo "$installed") || true; fail=1
fi
# Each header alone, two at a time: a C++ translation unit that includes only
# it (the C header also as C99), with only the installed include folder.
one_header() {  # one_header PREFIX HEADER
  local inc="$1/include"
  printf '#include <bnfold/%s>\nint main() { return 0; }\n' "$2" |
    g++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -I "$inc" -x c++ - || { echo "FAIL: <bnfold/$2> alone"; return 1; }
}
export -f one_header
if (cd "$prefix/include/bnfold" && find . -type f -printf '%P\n') | xargs -P 2 -I{} bash -c 'one_header "$0" {}' "$prefix"; then
  echo "ok: every installed header compiles alone"
else
  fail=1
fi
if printf '#include <bnfold/bnfold.h>\nint main(void) { return 0; }\n' |
   gcc -std=c99 -Wall -Wextra -Werror -fsyntax-only -I "$prefix/include" -x c -; then
  echo "ok: <bnfold/bnfold.h> compiles as C99"
else
  echo "FAIL: <bnfold/bnfold.h> as C99"; fail=1
fi

# The programs that link libbnfold are built with the C++ compiler that built
# it: a static libbnfold made by clang (the ASan build) needs clang's OpenMP
# runtime and sanitizer runtime, which g++ would not link.
cxx="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")"
cmake -S "$src/tools/examples/cpp" -B "$work/cpp" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$work/cpp" >/dev/null
out="$("$work/cpp/example_cpp" "$model" "$work/folded.onnx")"
expect "C++ example via find_package" "folded 7 of 7 BatchNormalization" "$out"
expect "C++ example runs the folded model" "output output: float32\[2,10\]" "$out"
expect "C++ example reads the model's input" "input input: float32\[N,3,32,32\]" "$out"
expect "C++ example monitors the folded model" "monitored 2 samples of 7 BatchNormalization inputs" "$out"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
lib="$(pkg-config --variable=libdir bnfold)"
# --static adds what a static libbnfold needs (nothing for the shared one).
libs="$(pkg-config --libs --static bnfold)"
"$cxx" -std=c++17 "$src/tools/examples/cpp/main.cpp" $(pkg-config --cflags bnfold) $libs -Wl,-rpath,"$lib" -o "$work/cpp_pc"
out="$("$work/cpp_pc" "$model" "$work/folded2.onnx")"
expect "C++ example via pkg-config" "folded 7 of 7" "$out"

gcc -std=c99 -Wall -Wextra -Werror -c "$src/tools/examples/c/main.c" $(pkg-config --cflags bnfold) -o "$work/c.o"
"$cxx" "$work/c.o" $libs -Wl,-rpath,"$lib" -o "$work/c_pc"  # a C++ compiler links: libbnfold is C++ inside
out="$("$work/c_pc" "$model")"
expect "C example via pkg-config" "folded 7 of 7 BatchNormalization" "$out"
expect "C example reads the model's input shape" "input input: float32 \[N, 3, 32, 32\]" "$out"
expect "C example runs" "output output: rank 2, dim 0 = 1" "$out"
expect "C example monitors and asks for drift" "monitored 2 samples; verdict: too few samples" "$out"
expect "C example: an error is a status with a message" "status 3: unknown input 'no_such_input'" "$out"
out="$("$work/c_pc" "$work/missing.onnx" 2>&1 || true)"
expect "C example: a bad path" "missing.onnx: no such file" "$out"

out="$("$prefix/bin/bnfold" --version)"
expect "installed CLI" "bnfold 0.1.0" "$out"

# The Python module: a fresh interpreter with nothing but the prefix's
# module folder on PYTHONPATH finds it and, through its RUNPATH, libbnfold.
pydir="$(sed -n 's/^BNFOLD_PYTHON_DIR:STRING=//p' "$build/CMakeCache.txt")"
checks=16
if [ -n "$pydir" ] && grep -q "^BNFOLD_PYTHON:BOOL=ON" "$build/CMakeCache.txt"; then
  out="$(env -i PATH=/usr/bin:/bin PYTHONPATH="$prefix/$pydir" /usr/bin/python3 -c "
import bnfold, numpy as np
s = bnfold.Session('$model', threads=1)
y = s.run({s.inputs[0]: np.zeros((2, 3, 32, 32), np.float32)})[s.outputs[0]]
print('python module from', bnfold.__file__.replace('$prefix', 'PREFIX'), 'output', y.shape)" 2>&1)"
  expect "installed Python module imports from a fresh interpreter" "python module from PREFIX/$pydir/bnfold.*output (2, 10)" "$out"
  out="$(cd "$work" && env -i PATH=/usr/bin:/bin PYTHONPATH="$prefix/$pydir" /usr/bin/python3 "$src/tools/examples/python/example.py" "$model" 2>&1)"
  expect "Python example from the prefix reads the model's input" "input input: float32 \['N', 3, 32, 32\]" "$out"
  expect "Python example from the prefix monitors" "monitored 4 samples of 7 BN inputs" "$out"
  checks=19
fi
[ "$fail" = 0 ] && echo "$checks passed, 0 failed" || { echo "some failed"; exit 1; }
