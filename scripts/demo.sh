#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, starts the Temporal dev server and a worker
# (central + this node), backs up a generated sample folder to local storage, restores it into a new folder and
# verifies every file's bytes, type, mode, mtime and link target. Leaves the server and worker running (UI on 8233);
# stop them with: bash scripts/embedded.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PERMAFROST_DATA_DIR=${PERMAFROST_DATA_DIR:-$PWD/.data}
bash scripts/embedded.sh start

DEMO="$PERMAFROST_DATA_DIR/demo"
SRC="$DEMO/source"
DST="$DEMO/restored-$(date -u +%Y%m%dT%H%M%S)"
rm -rf "$SRC" && mkdir -p "$SRC/etc/app" "$SRC/var/lib/data" "$SRC/ünïcødé ☃"
for i in $(seq 1 200); do printf 'line %s of a small config file\n' $(seq 1 $i) >"$SRC/etc/app/conf-$i.ini"; done
head -c $((20 * 1024 * 1024)) /dev/urandom >"$SRC/var/lib/data/blob.bin"
printf 'snow\n' >"$SRC/ünïcødé ☃/файл.txt"
printf '#!/bin/sh\necho hi\n' >"$SRC/run.sh" && chmod 750 "$SRC/run.sh"
printf 'secret\n' >"$SRC/etc/app/private.key" && chmod 600 "$SRC/etc/app/private.key"
: >"$SRC/empty"
ln -s etc/app/conf-1.ini "$SRC/current.ini"
ln "$SRC/var/lib/data/blob.bin" "$SRC/var/lib/data/blob-hardlink.bin"

PF="node dist/client/cli/main.js"
echo "== backup"
$PF backup fs "$SRC" --name demo --exclude '*.tmp'
echo "== list"
$PF list --name demo
echo "== restore"
$PF restore fs --name demo --target "$DST"

echo "== verify"
describe() { (cd "$1" && find . -mindepth 1 -printf '%P|%y|%m|%l|%TY-%Tm-%Td %TH:%TM|%s\n' | sed 's/|d|\(.*\)|[0-9]*$/|d|\1|-/' | LC_ALL=C sort); }
sums() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
if diff <(describe "$SRC") <(describe "$DST") && diff <(sums "$SRC") <(sums "$DST"); then
  echo "demo: verified restore of $(describe "$SRC" | wc -l) entries into $DST (bytes, types, modes, mtimes, link targets identical)"
else
  echo "demo: VERIFICATION FAILED" >&2
  exit 1
fi
echo "Temporal UI: http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}   history: .tools/bin/temporal workflow list --query 'BackupName=\"demo\"'"
echo "stop the embedded default with: bash scripts/embedded.sh stop"
