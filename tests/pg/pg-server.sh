#!/usr/bin/env bash
# A private PostgreSQL server for the tests: its own data folder, a local port, password (SCRAM) logins.
#   pg-server.sh start DIR   starts it and prints its admin URI (postgresql://mltraces:<pw>@127.0.0.1:<port>/postgres)
#   pg-server.sh stop DIR    stops it and removes DIR
# Installs Debian's postgresql package when no server binaries are found (CI machines start without one).
set -euo pipefail

find_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

as_owner() {
  # initdb and postgres refuse to run as root: run them as the postgres account then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:?start|stop}; dir=${2:?data folder}
case "$cmd" in
  start)
    if ! bindir=$(find_bindir); then
      if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
      $sudo apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
      bindir=$(find_bindir)
    fi
    mkdir -p "$dir"
    password="mltraces-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    printf '%s\n' "$password" > "$dir/pwfile"
    [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
    # C collation: ids and names sort by code point, as SQLite's binary collation does.
    as_owner "$bindir/initdb" -D "$dir/data" -U mltraces --pwfile="$dir/pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
    # A throwaway cluster: durability settings off for speed; the data folder is deleted afterwards.
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
    echo "$port" > "$dir/port"
    echo "postgresql://mltraces:$password@127.0.0.1:$port/postgres"
    ;;
  stop)
    if bindir=$(find_bindir) && [ -d "$dir/data" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
