#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the device-store tests, on a free loopback port.
#   scripts/postgres.sh start DIR   initdb + start; prints the URL for WALINK_TEST_POSTGRES
#   scripts/postgres.sh stop DIR    stop it and delete DIR
# initdb refuses to run as root, so as root the cluster belongs to the postgres user (the Debian
# package creates it); the socket lives in DIR, never in /var/run.
set -euo pipefail
action="${1:?usage: postgres.sh start|stop DIR}"
dir="${2:?usage: postgres.sh start|stop DIR}"
bin="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)")"
[ -x "$bin/initdb" ] || { echo "error: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$action" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    as_owner "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/log" start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300" >/dev/null \
      || { echo "error: PostgreSQL did not start" >&2; cat "$dir/log" >&2; exit 1; }
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: postgres.sh start|stop DIR" >&2
    exit 2
    ;;
esac
