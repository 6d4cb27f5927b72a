#!/usr/bin/env bash
# Runs every benchmark of the module against plain SQL on the same files, in one run, and writes the figures
# to bench/results/<date>.md. Stores are generated on first use into bench/data/ (git-ignored; 1M traces is
# about 9 GB and 4 minutes to make).
#   bench/run.sh            search (1M), streaming memory (100k and 1M), startup (10k), delete (100k of 1M)
#   bench/run.sh --small    the same on 100k/10k stores only, for a quick look
#   bench/run.sh --postgres also search and delete on PostgreSQL: a private server (tests/pg/pg-server.sh) under
#                           /tmp, the big store copied into it (MlTraces.Generator copy-to-postgres), stopped at the
#                           end. About 12 GB of free disk under /tmp per copy, two at a time. Combines with --small.
#   bench/run.sh --object-stores
#                           also archive-s3 (100k traces) and delete-s3 (10k) against a private s3rver
#                           (tests/objectstores/servers.sh; needs Node.js), each on a copy of the big store in
#                           bench/data/. Combines with the others.
set -euo pipefail
cd "$(dirname "$0")/.."
big=1000000 postgres=0 objectstores=0
for option in "$@"; do
  case "$option" in
    --small) big=100000 ;;
    --postgres) postgres=1 ;;
    --object-stores) objectstores=1 ;;
    *) echo "usage: $0 [--small] [--postgres] [--object-stores]" >&2; exit 2 ;;
  esac
done
dotnet build -c Release bench/MlTraces.Bench tools/MlTraces.Generator >/dev/null 2>&1 || dotnet build -c Release MlTraces.slnx
mkdir -p bench/data bench/results
store() { # traces -> path
  local path="bench/data/bench-$1.db"
  [ -f "$path" ] || dotnet tools/MlTraces.Generator/bin/Release/net10.0/MlTraces.Generator.dll store --out "$path" --traces "$1" >&2
  echo "$path"
}
out="bench/results/$(date -u +%Y-%m-%dT%H%M)Z.md"
bench() { dotnet bench/MlTraces.Bench/bin/Release/net10.0/MlTraces.Bench.dll "$@" --out "$out"; }
bench search --store "$(store $big)" --runs 21
bench stream --store "$(store 100000)"
[ "$big" != 100000 ] && bench stream --store "$(store $big)"
bench startup --store "$(store 10000)" --runs 5
# Deletes from fresh copies in bench/data (one at a time: as much free disk as the store takes, plus a copy).
bench delete --store "$(store $big)" --traces $((big / 10))
# Measure-TraceStore against plain SQL, then Optimize-TraceStore after deleting a tenth, on a copy in bench/data.
bench maintenance --store "$(store $big)" --traces $((big / 10)) --runs 3
if [ "$objectstores" = 1 ]; then
  # Each starts and stops its own s3rver; a missed target is reported, the other benches still run.
  bench archive-s3 --store "$(store $big)" --traces $((big / 10)) || true
  bench delete-s3 --store "$(store $big)" --traces $((big / 100)) || true
fi
if [ "$postgres" = 1 ]; then
  pgdir=$(mktemp -d /tmp/mltraces-bench-pg.XXXXXX)
  trap 'bash tests/pg/pg-server.sh stop "$pgdir"' EXIT
  admin=$(bash tests/pg/pg-server.sh start "$pgdir" | tail -n 1)
  bindir=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | tail -n 1)")
  # The test server's defaults (128 MB of shared buffers, 1 GB of WAL between checkpoints) suit a test suite, not
  # a 10 GB store: what a production server would set, within this machine's memory. Planner settings stay default.
  "$bindir/psql" "$admin" -qAt -c "ALTER SYSTEM SET shared_buffers = '2GB'" -c "ALTER SYSTEM SET maintenance_work_mem = '1GB'" \
    -c "ALTER SYSTEM SET max_wal_size = '16GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '30min'"
  if [ "$(id -u)" = 0 ]; then owner="runuser -u postgres --"; else owner=""; fi
  $owner "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 -m fast restart >/dev/null
  pgstore="${admin%/postgres}/bench_$big"
  dotnet tools/MlTraces.Generator/bin/Release/net10.0/MlTraces.Generator.dll copy-to-postgres --from "$(store $big)" --to "$pgstore" \
    | tee /dev/stderr | grep '^Loaded' | sed 's/^/PostgreSQL load: /' >> "$out"
  bench search --store "$pgstore" --runs 21
  bench delete --store "$pgstore" --traces $((big / 10))
fi
echo "Figures written to $out"
