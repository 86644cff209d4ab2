#!/usr/bin/env bash
# The layering rule, tested: each probe is one #include compiled with the
# include roots of one layer's target. The allowed ones must compile; each
# wrong-direction one must fail because the header it names is not there.
set -uo pipefail
build=$1
fail=0
for probe in adapters_sees_ports http_sees_actors; do
  if ! out=$(cmake --build "$build" --target "layering_$probe" 2>&1); then
    echo "FAIL: $probe should compile:"; echo "$out" | tail -20; fail=1
  else
    echo "ok: $probe compiles"
  fi
done
for probe in events_sees_projections projections_sees_actors actors_sees_http actors_sees_store \
             adapters_sees_actors; do
  header=$(sed -n 's/^#include "\(.*\)"$/\1/p' "$(dirname "$0")/$probe.cpp")
  if out=$(cmake --build "$build" --target "layering_$probe" 2>&1); then
    echo "FAIL: $probe compiled: the layers let it include $header"; fail=1
  elif ! grep -q "$header: No such file or directory" <<<"$out"; then
    echo "FAIL: $probe failed for another reason than the missing $header:"
    echo "$out" | tail -20; fail=1
  else
    echo "ok: $probe fails: $(grep -m1 "No such file" <<<"$out" | sed 's/^.*fatal error: //')"
  fi
done
exit $fail
