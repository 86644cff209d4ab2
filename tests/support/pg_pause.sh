#!/usr/bin/env bash
# Takes the server pg_start.sh started for DIR down (stop) or up again
# (start) on the same port, keeping its data: "the database went away".
set -euo pipefail
dir=$1
action=$2
cluster=$(cat "$dir/datadir")
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$action" in
  stop) as_pg "$bindir/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null ;;
  start)
    as_pg "$bindir/pg_ctl" -D "$cluster/data" -o "$(cat "$cluster/opts")" \
      -l "$cluster/server.log" -w -t 60 start >/dev/null ;;
  *) echo "pg_pause.sh DIR stop|start" >&2; exit 2 ;;
esac
