#!/usr/bin/env bash
# Runs the test tiers with node:test on the compiled output:
#   unit (pure logic), activities (MockActivityEnvironment), replay (recorded histories), integration (real Temporal
#   dev server started here, on a free port, in memory), storage (drivers and end-to-end runs against the project's
#   lab: a real sshd and real Swift + Keystone, installed and started here), openstack (volumes, images and servers
#   against the lab's real Keystone, Glance, Cinder and Nova). The lab is stopped at the end unless it was already up.
# `scripts/test.sh unit activities` runs a subset; TEST_FILES=<regex> keeps only the matching files of those tiers.
# Installs and builds first (scripts/setup.sh), unless PERMAFROST_SKIP_SETUP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${PERMAFROST_SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh

tiers=("$@")
if [ ${#tiers[@]} -eq 0 ]; then
  tiers=(unit activities replay integration storage openstack)
  echo "[test] lint" >&2
  npx --no-install eslint .
fi
files=()
for tier in "${tiers[@]}"; do
  while IFS= read -r f; do files+=("$f"); done < <(find "dist/test/$tier" -name '*.test.js' 2>/dev/null | grep -E "${TEST_FILES:-.}" | sort)
done
[ ${#files[@]} -gt 0 ] || { echo "no test files for: ${tiers[*]}" >&2; exit 1; }

needs_server=0
needs_lab=0
lab_services=()
for tier in "${tiers[@]}"; do
  case "$tier" in
    integration | replay) needs_server=1 ;;
    storage) needs_server=1 needs_lab=1 lab_services+=(swift keystone) ;;
    openstack) needs_server=1 needs_lab=1 lab_services+=(swift keystone glance cinder nova) ;;
  esac
done
cleanup=()
on_exit() { for c in "${cleanup[@]}"; do eval "$c" || true; done; }
trap on_exit EXIT

if [ "$needs_lab" = 1 ]; then
  echo "[test] lab: sshd, ${lab_services[*]}" >&2
  bash lab/lab.sh install >&2
  # A lab someone else started (a developer, a parallel run) stays up; one started here is stopped at the end.
  bash lab/sshd.sh status >/dev/null 2>&1 || cleanup+=("bash lab/sshd.sh down >/dev/null 2>&1")
  bash lab/lab.sh status >/dev/null 2>&1 || cleanup+=("bash lab/lab.sh down >/dev/null 2>&1")
  bash lab/sshd.sh up >&2
  bash lab/lab.sh up "${lab_services[@]}" >&2
  eval "$(bash lab/lab.sh env)"
  eval "$(bash lab/sshd.sh env)"
fi
if [ "$needs_server" = 1 ] && [ -z "${PERMAFROST_TEST_TEMPORAL_ADDRESS:-}" ]; then
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  export PERMAFROST_DATA_DIR_TEST
  PERMAFROST_DATA_DIR_TEST=$(mktemp -d /tmp/permafrost-test-server.XXXXXX)
  PERMAFROST_DATA_DIR="$PERMAFROST_DATA_DIR_TEST" TEMPORAL_PORT="$port" TEMPORAL_DB=memory TEMPORAL_HEADLESS=1 \
    bash scripts/temporal-dev.sh start
  cleanup+=("PERMAFROST_DATA_DIR='$PERMAFROST_DATA_DIR_TEST' TEMPORAL_PORT=$port bash scripts/temporal-dev.sh stop >/dev/null; rm -rf '$PERMAFROST_DATA_DIR_TEST'")
  export PERMAFROST_TEST_TEMPORAL_ADDRESS="127.0.0.1:$port"
fi

# One file at a time: 2 cores, and integration files each run their own workers.
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
