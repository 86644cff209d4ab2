#!/usr/bin/env bash
# The layering rule and the typed protocols, tested: each probe is compiled
# with the include roots of one layer's target. The allowed ones must
# compile; each wrong-direction include must fail because the header it names
# is not there, and each wrong message to a typed actor with CAF's error
# (the probe's "// expect:" line).
set -uo pipefail
build=$1
fail=0
for probe in adapters_sees_ports http_sees_actors protocol_match; do
  if ! out=$(cmake --build "$build" --target "layering_$probe" 2>&1); then
    echo "FAIL: $probe should compile:"; echo "$out" | tail -20; fail=1
  else
    echo "ok: $probe compiles"
  fi
done
for probe in events_sees_projections projections_sees_actors actors_sees_http actors_sees_store \
             adapters_sees_actors; do
  header=$(sed -n 's/^#include "\(.*\)"$/\1/p' "$(dirname "$0")/$probe.cpp" | head -n 1)
  if out=$(cmake --build "$build" --target "layering_$probe" 2>&1); then
    echo "FAIL: $probe compiled: the layers let it include $header"; fail=1
  elif ! grep -q "$header: No such file or directory" <<<"$out"; then
    echo "FAIL: $probe failed for another reason than the missing $header:"
    echo "$out" | tail -20; fail=1
  else
    echo "ok: $probe fails: $(grep -m1 "No such file" <<<"$out" | sed 's/^.*fatal error: //')"
  fi
done
for probe in protocol_mismatch; do
  expect=$(sed -n 's|^// expect: ||p' "$(dirname "$0")/$probe.cpp")
  count=$(sed -n 's|^// expect-count: ||p' "$(dirname "$0")/$probe.cpp")
  if out=$(cmake --build "$build" --target "layering_$probe" 2>&1); then
    echo "FAIL: $probe compiled: the typed interfaces let a wrong message through"; fail=1
  elif [ "$(grep -c "$expect" <<<"$out")" -lt "${count:-1}" ]; then
    echo "FAIL: $probe failed fewer than ${count:-1} times with \"$expect\":"
    echo "$out" | grep -m8 "error"; fail=1
  else
    echo "ok: $probe fails ${count:-1} times: $expect"
  fi
done
exit $fail
