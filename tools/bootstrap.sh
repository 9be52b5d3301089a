# Sourced by tools/demo.sh and tools/test.sh: installs the Debian packages bnfold
# needs (only those missing, so a second run costs nothing) and builds.
set -euo pipefail

BNFOLD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BNFOLD_PACKAGES=(
  cmake g++ ninja-build pkg-config
  libonnx-dev libprotobuf-dev protobuf-compiler libfmt-dev
  libdnnl-dev ocl-icd-opencl-dev libbenchmark-dev libstb-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev catch2
  # bnfold serve's HTTP (the library links it)
  libcpp-httplib-dev
  # model generation and end-to-end tests (torchvision exports)
  python3 python3-dev python3-numpy python3-onnx python3-torch python3-torchvision
  pybind11-dev python3-pytest
  # drift over shards on Dask (tests/tools/python/test_stats.py starts a LocalCluster)
  python3-distributed
  # Debian packages of the build (tools/package_deb.py; tests/tools/cli/test_deb.sh)
  dpkg-dev help2man
  # the HTML reports and the server's live page are rendered in headless Chromium by tests
  chromium
  # the serving tests: a real Prometheus scrapes the server; promtool checks /metrics and tests the alert rules
  prometheus
)

# bnfold_install_packages [extra packages...]
bnfold_install_packages() {
  local missing=()
  local wanted=("${BNFOLD_PACKAGES[@]}" "$@")
  # ONNX Runtime (the tests' second reference, from the npm registry) needs
  # Node.js; Debian's when the machine has none.
  command -v node >/dev/null 2>&1 || wanted+=(nodejs npm)
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bnfold: installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# bnfold_build BUILD_DIR [cmake options...]
bnfold_build() {
  local dir="$1"
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$BNFOLD_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBNFOLD_WERROR=ON "$@" >/dev/null
  fi
  # BNFOLD_BUILD_TARGETS: only these targets (the TSan stage needs only the tests).
  cmake --build "$dir" -j "$(nproc)" ${BNFOLD_BUILD_TARGETS:+--target $BNFOLD_BUILD_TARGETS}
}
