#!/usr/bin/env bash
# Builds the Debian packages (tools/package_deb.py), unpacks them into a
# throw-away root with dpkg -x and runs from there: the CLI and its man page,
# the Python module from a fresh interpreter, the C and C++ examples built
# against the unpacked headers, CMake package and pkg-config file.
# Usage: test_deb.sh BUILD_DIR SOURCE_DIR     (exit 77: dpkg-dev or help2man missing)
set -euo pipefail
build="$1"
src="$(cd "$2" && pwd)"
for tool in dpkg-shlibdeps help2man; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool is missing (apt-get install dpkg-dev help2man)"; exit 77; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$src/tools/package_deb.py" --build "$build" --out "$work/deb" >"$work/packages.txt"
root="$work/root"
for deb in "$work"/deb/*.deb; do dpkg -x "$deb" "$root"; done
model="$src/models/tiny_resnet.onnx"
fail=0
checks=0
expect() {  # expect NAME PATTERN OUTPUT
  checks=$((checks + 1))
  if grep -q -- "$2" <<<"$3"; then echo "ok: $1"; else echo "FAIL: $1"; echo "$3"; fail=1; fi
}
debs="$(ls "$work/deb")"
for p in libbnfold0 libbnfold-dev bnfold python3-bnfold; do expect "package $p built" "^${p}_.*\.deb$" "$debs"; done
lib_deps="$(dpkg-deb -f "$work"/deb/libbnfold0_*.deb Depends)"
expect "libbnfold0 depends on Debian's oneDNN" "libdnnl2" "$lib_deps"
expect "libbnfold0 depends on Debian's protobuf" "libprotobuf" "$lib_deps"
expect "libbnfold0 depends on Debian's ONNX" "libonnx1" "$lib_deps"
expect "bnfold depends on libbnfold0" "libbnfold0 (= " "$(dpkg-deb -f "$work"/deb/bnfold_*.deb Depends)"
expect "python3-bnfold depends on numpy" "python3-numpy" "$(dpkg-deb -f "$work"/deb/python3-bnfold_*.deb Depends)"
expect "libbnfold-dev holds the headers, CMake package and .pc" "usr/lib/pkgconfig/bnfold.pc" \
  "$(dpkg-deb -c "$work"/deb/libbnfold-dev_*.deb; dpkg-deb -c "$work"/deb/libbnfold-dev_*.deb | grep -c bnfoldConfig.cmake)"

# The CLI finds libbnfold in the unpacked root through its RUNPATH.
expect "CLI from the package" "bnfold 0.1.0" "$("$root/usr/bin/bnfold" --version)"
expect "CLI folds from the package" "7 found: 7 folded" "$("$root/usr/bin/bnfold" fold "$model" -o "$work/f.onnx" 2>&1 | tr -s ' ')"
man="$(zcat "$root/usr/share/man/man1/bnfold.1.gz")"
expect "man page (help2man)" '^\.TH BNFOLD "1"' "$man"
expect "man page has every command's options" '^\.SS drift' "$man"

# Python: a fresh interpreter, only the package's module folder on the path.
out="$(env -i PATH=/usr/bin:/bin PYTHONPATH="$root/usr/lib/python3/dist-packages" /usr/bin/python3 -c "
import bnfold, numpy as np
s = bnfold.Session('$model', threads=1)
y = s.run({s.inputs[0]: np.zeros((2, 3, 32, 32), np.float32)})[s.outputs[0]]
print('module', bnfold.__file__.replace('$root', 'ROOT'), 'output', y.shape)" 2>&1)"
expect "Python module from the package" "module ROOT/usr/lib/python3/dist-packages/bnfold.*output (2, 10)" "$out"
out="$(cd "$work" && env -i PATH=/usr/bin:/bin PYTHONPATH="$root/usr/lib/python3/dist-packages" \
  /usr/bin/python3 "$src/tools/examples/python/example.py" "$model" 2>&1)"
expect "Python example from the package" "folded 7 of 7" "$out"

# C with pkg-config (the .pc file is relocatable), C++ with find_package.
export PKG_CONFIG_PATH="$root/usr/lib/pkgconfig"
gcc -std=c99 -Wall -Wextra -Werror "$src/tools/examples/c/main.c" $(pkg-config --cflags bnfold) -c -o "$work/c.o"
g++ "$work/c.o" $(pkg-config --libs bnfold) -Wl,-rpath,"$root/usr/lib" -o "$work/c_example"
out="$("$work/c_example" "$model")"
expect "C example against the package reads the input shape" "input input: float32 \[N, 3, 32, 32\]" "$out"
expect "C example against the package monitors" "verdict: too few samples" "$out"
cmake -S "$src/tools/examples/cpp" -B "$work/cpp" -DCMAKE_PREFIX_PATH="$root/usr" >/dev/null
cmake --build "$work/cpp" >/dev/null
out="$(LD_LIBRARY_PATH="$root/usr/lib" "$work/cpp/example_cpp" "$model" "$work/folded.onnx")"
expect "C++ example against the package" "folded 7 of 7 BatchNormalization" "$out"

[ "$fail" = 0 ] && echo "$checks passed, 0 failed" || { echo "some failed"; exit 1; }
