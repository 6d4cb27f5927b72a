#!/usr/bin/env bash
# Runs every benchmark of the module against plain SQL on the same files, in one run, and writes the figures
# to bench/results/<date>.md. Stores are generated on first use into bench/data/ (git-ignored; 1M traces is
# about 9 GB and 4 minutes to make).
#   bench/run.sh            search (1M), streaming memory (100k and 1M), startup (10k), delete (100k of 1M)
#   bench/run.sh --small    the same on 100k/10k stores only, for a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
big=1000000
[ "${1:-}" = "--small" ] && big=100000
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
echo "Figures written to $out"
