#!/usr/bin/env bash
# Installs every Debian package that ipw's build and test suite need. Idempotent; run as root
# (or with sudo available) on a fresh Debian 12 machine. npm test packages are installed
# separately by scripts/install-test-npm.sh because they live inside the build tree.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config git
  libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libcurl4-openssl-dev libjansson-dev libcairo2-dev libsqlite3-dev
  libmicrohttpd-dev libcmocka-dev libxxhash-dev
  bubblewrap tmux  # ipw run: the default sandbox, the terminus agent's terminal
)
TEST_PKGS=(
  clang libclang-rt-14-dev
  python3 python3-grpcio python3-protobuf python3-grpc-tools python3-numpy python3-yaml
  prometheus chromium
  valgrind procps ca-certificates zsh tmux groff-base
  xxhash  # xxhsum: checks the analysis stamp's digest independently
  librocm-smi64-1 librocm-smi-dev
)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" != "--build-only" ]; then
  want+=("${TEST_PKGS[@]}")
  # Node may come from nodesource (which conflicts with Debian's npm): take Debian's only if absent.
  command -v node >/dev/null 2>&1 || want+=(nodejs)
  command -v npm >/dev/null 2>&1 || want+=(npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
