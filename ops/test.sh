#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite, in three passes:
#   1. the Release build's CTest suite, real clients (SDK, Codex) included;
#   2. the same suite built with AddressSanitizer + UBSan (./build-asan),
#      without the real-client suites, the scale cases (100,000 stored
#      responses: minutes under ASan, and about speed, not memory), the
#      e2e reruns against a Chat Completions backend (the adapter's code is
#      sanitized in adapters.backends, e2e.backends and its fuzz targets)
#      and the layering probes (a build rule, not a run)
#      (SANITIZE=0 skips this pass);
#   3. every libFuzzer target for FUZZ_SECONDS (default 20), two at a time
#      (FUZZ_SECONDS=0 skips it).
# The suite starts its own throwaway PostgreSQL servers on free loopback
# ports and stops them after. Extra arguments go to the first ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
lap() { echo "test.sh: $1 after $(( $(date +%s) - start )) s"; }
bash ops/setup.sh
bash ops/build.sh
lap "release build"
# The SDK contract suite's and the console tests' npm packages, exactly as
# their lock files pin them.
(cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
(cd tests/http/console && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")
lap "release suite"
if [ "${SANITIZE:-1}" != 0 ]; then
  cmake -S . -B build-asan -DRIPOSTE_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$(nproc)"
  lap "sanitized build"
  (cd build-asan &&
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0:strict_string_checks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LSAN_OPTIONS=suppressions="$PWD/../tests/sanitizers/lsan.supp":print_suppressions=0 \
    ctest --output-on-failure -j "$(nproc)" -E '^sdk|\.scale$|^e2e\.vllm\.|^layering$')
  lap "sanitized suite"
fi
if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
  bash ops/fuzz.sh
  lap "fuzzing"
fi
lap "all passed"
