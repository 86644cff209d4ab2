#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests on a free loopback port:
#   pg_start.sh DIR [extra postgres -c settings...]
# writes DIR/url (a postgresql:// URL) and DIR/datadir. Runs the server as the
# `postgres` user when started as root. Stop it with pg_stop.sh DIR; take it
# down and up again, data kept, with pg_pause.sh DIR stop|start.
set -euo pipefail
dir=$1
shift || true
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "pg_start: no PostgreSQL server installed" >&2; exit 1; }

bash "$(dirname "$0")/pg_stop.sh" "$dir" >/dev/null 2>&1 || true
mkdir -p "$dir"
cluster=$(mktemp -d /tmp/riposte-pg.XXXXXX)
echo "$cluster" > "$dir/datadir"

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$cluster"

as_pg "$bindir/initdb" -D "$cluster/data" --auth=trust -U postgres --no-sync -E UTF8 \
  >"$cluster/initdb.log" 2>&1 || { cat "$cluster/initdb.log" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$cluster -c max_connections=200"
for extra in "$@"; do opts="$opts -c $extra"; done
echo "$opts" > "$cluster/opts"
if ! as_pg "$bindir/pg_ctl" -D "$cluster/data" -o "$opts" -l "$cluster/server.log" -w -t 60 start \
  >/dev/null; then
  cat "$cluster/server.log" >&2
  exit 1
fi
echo "postgresql://postgres@127.0.0.1:$port/postgres" > "$dir/url"
