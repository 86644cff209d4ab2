#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite, in three passes:
#   1. the Release build's CTest suite, real clients (SDK, Codex) included;
#   2. the same suite built with AddressSanitizer + UBSan (./build-asan),
#      without the real-client suites, the scale cases (100,000 stored
#      responses: minutes under ASan, and about speed, not memory) and the
#      vLLM-dialect reruns of suites that do not reach its adapter's code
#      (SANITIZE=0 skips this pass);
#   3. every libFuzzer target for FUZZ_SECONDS (default 30), two at a time
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
# Against the Chat Completions backend, the sanitized pass runs the suites
# that reach its adapter's own code (replies whole and streamed, tool calls,
# token counts); the others run through that adapter in the Release pass.
vllm_release_only='operations|files|prompts|web_search|image_generation|hostile|faults|conformance'
if [ "${SANITIZE:-1}" != 0 ]; then
  cmake -S . -B build-asan -DRIPOSTE_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$(nproc)"
  lap "sanitized build"
  (cd build-asan &&
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0:strict_string_checks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LSAN_OPTIONS=suppressions="$PWD/../tests/sanitizers/lsan.supp":print_suppressions=0 \
    ctest --output-on-failure -j "$(nproc)" -E "^sdk|\.scale\$|^e2e\.vllm\.($vllm_release_only)\$")
  lap "sanitized suite"
fi
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  bash ops/fuzz.sh
  lap "fuzzing"
fi
lap "all passed"
