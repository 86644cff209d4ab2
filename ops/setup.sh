#!/usr/bin/env bash
# Installs every Debian package riposte's build, tests and benchmarks need.
# Idempotent: when everything is present it returns without touching apt.
#   setup.sh [--build-only]   (--build-only: what building riposte needs, no
#                              test servers or Node; the Dockerfile uses it)
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache git ca-certificates
  libcaf-dev librestinio-dev libasio-dev libfmt-dev libhttp-parser-dev
  librocksdb-dev libpqxx-dev libpq-dev nlohmann-json3-dev prometheus-cpp-dev
  libboost-test-dev libcurl4-openssl-dev libcli11-dev libyaml-cpp-dev libvalijson-dev libssl-dev libpoppler-cpp-dev
  libjemalloc-dev
)
build_only=false
[ "${1:-}" = "--build-only" ] && build_only=true
if ! $build_only; then
  # clang-14 and its runtimes: the libFuzzer targets (ops/fuzz.sh); chromium:
  # the console's browser tests (tests/http/console); valgrind: instructions
  # per create (ops/bench/instructions.sh).
  packages+=(postgresql python3 procps iproute2 nginx-light haproxy wrk time clang-14 libclang-rt-14-dev chromium valgrind)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm run the SDK contract suite; any Node >= 20 will do.
if ! $build_only && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
