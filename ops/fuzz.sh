#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang with ASan and UBSan) into
# ./build-fuzz and runs each for FUZZ_SECONDS (default 20), two at a time,
# from the committed seeds (tests/fuzz/corpus/NAME). Prints each fuzzer's
# runs; a crash fails the script and leaves its input in build-fuzz/crashes/.
#   fuzz.sh [NAME...]      (default: every fuzzer)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
CXX=clang++-14 cmake -S . -B build-fuzz -DRIPOSTE_FUZZ=ON -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-fuzz --target fuzzers -j "$(nproc)"
names=("$@")
if ((${#names[@]} == 0)); then
  names=(create codec multipart token_line file_data url_guard openai_chat chat_reply chat_body ws_frames conversation news expect index http_reader)
fi
work=build-fuzz/work
rm -rf "$work"
mkdir -p "$work" build-fuzz/crashes
run() {
  local name=$1
  mkdir -p "$work/$name/corpus"
  cp tests/fuzz/corpus/"$name"/* "$work/$name/corpus/" 2>/dev/null || true
  (cd "$work/$name" && "../../tests/fuzz/${name}_fuzzer" corpus -max_total_time="$seconds" \
      -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$PWD/../../crashes/${name}-" >log 2>&1) || true
}
pids=()
for name in "${names[@]}"; do
  run "$name" &
  pids+=($!)
  if ((${#pids[@]} == 2)); then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
wait
status=0
for name in "${names[@]}"; do
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$name/log" | grep -o '[0-9]*$' || echo 0)
  if grep -q 'ERROR: libFuzzer\|SUMMARY: .*Sanitizer' "$work/$name/log"; then
    echo "fuzz: $name FAILED after $runs runs:"
    grep -m1 -A15 'ERROR:' "$work/$name/log" || true
    status=1
  else
    echo "fuzz: $name $runs runs in ${seconds}s, no crash"
  fi
done
exit $status
