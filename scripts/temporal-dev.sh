#!/usr/bin/env bash
# The Temporal dev server (SQLite file, Web UI, permafrost's search attributes registered).
#   scripts/temporal-dev.sh start|stop|status
# Env: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (port+1000), PERMAFROST_DATA_DIR (./.data); TEMPORAL_DB=memory for no file.
set -euo pipefail
cd "$(dirname "$0")/.."
T="$PWD/.tools/bin/temporal"
PORT=${TEMPORAL_PORT:-7233}
UI_PORT=${TEMPORAL_UI_PORT:-$((PORT + 1000))}
DATA=${PERMAFROST_DATA_DIR:-$PWD/.data}
DIR="$DATA/temporal-$PORT"
# Keep in step with workflows/shared/search-attributes.ts.
SEARCH_ATTRIBUTES=(BackupNode=Keyword BackupResource=Keyword BackupKind=Keyword BackupName=Keyword)

healthy() { "$T" operator cluster health --address "127.0.0.1:$PORT" >/dev/null 2>&1; }

case "${1:-status}" in
  start)
    if healthy; then echo "temporal dev server already up on 127.0.0.1:$PORT"; exit 0; fi
    [ -x "$T" ] || { echo "temporal CLI missing: run scripts/setup.sh" >&2; exit 1; }
    mkdir -p "$DIR"
    args=(server start-dev --ip 127.0.0.1 --port "$PORT" --ui-port "$UI_PORT" --log-level warn)
    if [ "${TEMPORAL_DB:-file}" != memory ]; then args+=(--db-filename "$DIR/dev.db"); fi
    if [ "${TEMPORAL_HEADLESS:-0}" = 1 ]; then args+=(--headless); fi
    for sa in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
    setsid "$T" "${args[@]}" >"$DIR/server.log" 2>&1 < /dev/null &
    echo $! >"$DIR/server.pid"
    for _ in $(seq 1 120); do
      if healthy; then
        echo "temporal dev server up: 127.0.0.1:$PORT, UI http://127.0.0.1:$UI_PORT"
        exit 0
      fi
      if ! kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null; then break; fi
      sleep 0.5
    done
    echo "temporal dev server did not come up; log:" >&2
    tail -n 30 "$DIR/server.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$DIR/server.pid" ]; then
      pid=$(cat "$DIR/server.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$DIR/server.pid"
    fi
    echo "temporal dev server on port $PORT stopped"
    ;;
  status)
    if healthy; then echo "up: 127.0.0.1:$PORT"; else echo "down: 127.0.0.1:$PORT"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
