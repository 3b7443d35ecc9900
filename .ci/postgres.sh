#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on loopback, for the tests that need a real server.
#
#   bash .ci/postgres.sh start [--watch PID]
#       initdb's a cluster in a new temporary directory, starts it on a free port of 127.0.0.1
#       (trust authentication, superuser `switchboard`) and prints its URL on standard output:
#       postgres://switchboard@127.0.0.1:PORT/postgres
#       With --watch PID, a background watcher stops the cluster and removes its directory once
#       process PID has exited (the test binary, or the CI run).
#
# PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user that
# Debian's package creates. Needs the server binaries (`apt-get install postgresql`).
set -euo pipefail

usage() { echo "usage: $0 start [--watch PID]" >&2; exit 2; }
[ "${1:-}" = start ] || usage
watch_pid=""
if [ "${2:-}" = --watch ]; then
  watch_pid="${3:?--watch needs a PID}"
fi

bin=""
for dir in /usr/lib/postgresql/*/bin; do
  [ -x "$dir/initdb" ] && bin="$dir"
done
if [ -z "$bin" ]; then
  echo "$0: no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 1
fi

run_as=()
if [ "$(id -u)" = 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "$0: running as root, and there is no 'postgres' user to run the server as" >&2
    exit 1
  fi
  run_as=(runuser -u postgres --)
fi

root="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-pg.XXXXXX")"
chmod 0755 "$root"
[ ${#run_as[@]} -gt 0 ] && chown postgres "$root"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

"${run_as[@]}" "$bin/initdb" -D "$root/data" -U switchboard -A trust -E UTF8 --no-sync >"$root/initdb.log" 2>&1 \
  || { cat "$root/initdb.log" >&2; exit 1; }
"${run_as[@]}" "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $root -c max_connections=200" start >/dev/null \
  || { cat "$root/server.log" >&2; exit 1; }

if [ -n "$watch_pid" ]; then
  stop="${run_as[*]} $bin/pg_ctl -D $root/data -m immediate stop"
  nohup bash -c "while kill -0 $watch_pid 2>/dev/null; do sleep 1; done; $stop >/dev/null 2>&1; rm -rf $root" \
    >/dev/null 2>&1 &
fi

echo "postgres://switchboard@127.0.0.1:$port/postgres"
