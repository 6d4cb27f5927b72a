#!/usr/bin/env bash
# Private object-store servers for the tests: s3rver (S3) and Azurite (Azure Blob), each on a free local port with
# its own temporary data folder. Installed from npm into tests/objectstores/node_modules (git-ignored) when missing.
#   servers.sh start s3 DIR      starts s3rver; prints its endpoint URL (http://127.0.0.1:<port>)
#   servers.sh start s3-tls DIR  the same over HTTPS with a self-signed certificate (https://127.0.0.1:<port>)
#   servers.sh start azure DIR [ACCOUNT:KEY]
#                                starts Azurite's blob service (with that account, to start again on DIR's data);
#                                prints a connection string for it
#   servers.sh start azure-tls DIR ACCOUNT:KEY
#                                the same over HTTPS with DIR/tls.crt and DIR/tls.key (PEM, put there by the caller),
#                                also at production-style URLs (https://ACCOUNT.blob.core.windows.net, reached
#                                through a proxy); prints a connection string for https://127.0.0.1:<port>/ACCOUNT
#   servers.sh stop DIR          stops what DIR's start started and removes DIR
# With OWNER_PID after DIR, a start also stops the server when that process has ended.
# The S3 keys are s3rver's fixed pair (S3RVER/S3RVER); the Azure account has a random key made here, so a test
# can look for it in messages without matching a well-known constant.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/node_modules/.bin"

install() {
  command -v node >/dev/null 2>&1 || { echo "node is not installed: the object-store servers (s3rver, Azurite) need Node.js 20 and npm" >&2; exit 3; }
  if [ ! -x "$bin/s3rver" ] || [ ! -x "$bin/azurite-blob" ]; then
    # One install at a time: several test processes may start servers together.
    ( flock 9; [ -x "$bin/s3rver" ] && [ -x "$bin/azurite-blob" ] || \
      npm install --prefix "$here" --no-audit --no-fund --loglevel=error >"$here/.npm-install.log" 2>&1 \
      || { cat "$here/.npm-install.log" >&2; exit 4; } ) 9>"$here/.install.lock"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_port() {
  local port=$1 log=$2 i
  for i in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "the server did not listen on port $port within 15 s:" >&2; cat "$log" >&2; return 1
}

cmd=${1:?start|stop}
case "$cmd" in
  start)
    kind=${2:?s3|azure}; dir=${3:?data folder}; owner=""; account_key=""
    # After DIR, in any order: an owner process id (digits), an Azure ACCOUNT:KEY.
    for extra in "${@:4}"; do
      case "$extra" in
        *:*) account_key="$extra" ;;
        *[!0-9]*|"") echo "not an owner pid or ACCOUNT:KEY: $extra" >&2; exit 2 ;;
        *) owner="$extra" ;;
      esac
    done
    install
    mkdir -p "$dir/$kind"
    port=$(free_port)
    case "$kind" in
      s3)
        # s3rver's ListObjectsV2 continuation tokens use a cipher OpenSSL 3 keeps in its legacy provider: without
        # it, any listing past 1,000 keys answers 500.
        NODE_OPTIONS=--openssl-legacy-provider setsid "$bin/s3rver" --directory "$dir/$kind" --address 127.0.0.1 --port "$port" --silent \
          >"$dir/$kind.log" 2>&1 </dev/null &
        echo $! > "$dir/$kind.pid"
        wait_port "$port" "$dir/$kind.log"
        echo "http://127.0.0.1:$port"
        ;;
      s3-tls)
        # HTTPS with a self-signed certificate, for MLFLOW_S3_IGNORE_TLS.
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
          -keyout "$dir/tls.key" -out "$dir/tls.crt" >/dev/null 2>&1
        NODE_OPTIONS=--openssl-legacy-provider setsid "$bin/s3rver" --directory "$dir/$kind" --address 127.0.0.1 --port "$port" --silent \
          --key "$dir/tls.key" --cert "$dir/tls.crt" >"$dir/$kind.log" 2>&1 </dev/null &
        echo $! > "$dir/$kind.pid"
        wait_port "$port" "$dir/$kind.log"
        echo "https://127.0.0.1:$port"
        ;;
      azure)
        account="mltraces$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
        key="$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
        if [ -n "$account_key" ]; then account="${account_key%%:*}"; key="${account_key#*:}"; fi
        AZURITE_ACCOUNTS="$account:$key" setsid "$bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$port" \
          --location "$dir/$kind" --silent --skipApiVersionCheck --disableProductStyleUrl --disableTelemetry \
          >"$dir/$kind.log" 2>&1 </dev/null &
        echo $! > "$dir/$kind.pid"
        wait_port "$port" "$dir/$kind.log"
        echo "DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$port/$account;"
        ;;
      azure-tls)
        # Without --disableProductStyleUrl: Azurite takes the account from the host's first label, as Azure does.
        [ -n "$account_key" ] && [ -f "$dir/tls.crt" ] && [ -f "$dir/tls.key" ] || { echo "azure-tls needs ACCOUNT:KEY and DIR/tls.crt, DIR/tls.key" >&2; exit 2; }
        account="${account_key%%:*}"; key="${account_key#*:}"
        AZURITE_ACCOUNTS="$account:$key" setsid "$bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$port" \
          --location "$dir/$kind" --silent --skipApiVersionCheck --disableTelemetry --cert "$dir/tls.crt" --key "$dir/tls.key" \
          >"$dir/$kind.log" 2>&1 </dev/null &
        echo $! > "$dir/$kind.pid"
        wait_port "$port" "$dir/$kind.log"
        echo "DefaultEndpointsProtocol=https;AccountName=$account;AccountKey=$key;BlobEndpoint=https://127.0.0.1:$port/$account;"
        ;;
      *) echo "usage: $0 start s3|s3-tls|azure|azure-tls DIR [OWNER_PID] [ACCOUNT:KEY]" >&2; exit 2 ;;
    esac
    if [ -n "$owner" ]; then
      # Stopped when the process that asked for it is gone, however it ended (a test host that is killed runs no
      # exit handler).
      setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; bash "$2" stop "$3"' _ "$owner" "$here/servers.sh" "$dir" \
        >/dev/null 2>&1 </dev/null &
    fi
    ;;
  stop)
    dir=${2:?data folder}
    for f in "$dir"/*.pid; do
      [ -f "$f" ] || continue
      pid=$(cat "$f")
      # setsid made each server its own process group: end the group (npm's shim and node), only ours.
      kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
      # Gone before its folder is removed, or it writes the folder anew.
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start s3|azure DIR | stop DIR" >&2; exit 2 ;;
esac
