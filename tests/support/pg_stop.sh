#!/usr/bin/env bash
# Stops the server pg_start.sh started for DIR and removes its cluster.
set -uo pipefail
dir=$1
[ -f "$dir/datadir" ] || exit 0
cluster=$(cat "$dir/datadir")
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -d "$cluster/data" ]; then
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$bindir/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1
  else
    "$bindir/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1
  fi
fi
case "$cluster" in /tmp/riposte-pg.*) rm -rf "$cluster" ;; esac
rm -f "$dir/datadir" "$dir/url"
exit 0
