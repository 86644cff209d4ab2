#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite. The suite starts its own
# throwaway PostgreSQL server on a free loopback port and stops it after.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/setup.sh
bash ops/build.sh
# The SDK contract suite's npm packages, exactly as the lock file pins them.
(cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
