#!/usr/bin/env bash
# The embedded default: the Temporal dev server plus one worker process serving both the central queue and this
# node's queue, with local storage under PERMAFROST_DATA_DIR (./.data).
#   scripts/embedded.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")/.."
export PERMAFROST_DATA_DIR=${PERMAFROST_DATA_DIR:-$PWD/.data}
PORT=${TEMPORAL_PORT:-7233}
export TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:$PORT}
PIDFILE="$PERMAFROST_DATA_DIR/worker.pid"
LOG="$PERMAFROST_DATA_DIR/worker.log"

worker_running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-status}" in
  start)
    bash scripts/temporal-dev.sh start
    if worker_running; then echo "worker already running (pid $(cat "$PIDFILE"))"; exit 0; fi
    mkdir -p "$PERMAFROST_DATA_DIR"
    # A small young generation keeps the worker's RSS low while it streams large segments (see README, benchmark).
    setsid node --max-semi-space-size=4 dist/workers/main.js --role all >>"$LOG" 2>&1 < /dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 60); do
      if grep -q '"permafrost worker started"' "$LOG" 2>/dev/null && worker_running; then
        echo "worker up (pid $(cat "$PIDFILE")), log: $LOG"
        exit 0
      fi
      worker_running || break
      sleep 0.5
    done
    echo "worker did not start; log:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
    ;;
  stop)
    if worker_running; then
      pid=$(cat "$PIDFILE")
      kill -TERM "$pid"
      for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    rm -f "$PIDFILE"
    bash scripts/temporal-dev.sh stop
    ;;
  status)
    bash scripts/temporal-dev.sh status
    if worker_running; then echo "worker up (pid $(cat "$PIDFILE"))"; else echo "worker down"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
