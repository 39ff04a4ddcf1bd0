#!/bin/sh
# Waits for the Temporal frontend, creates the namespace and permafrost's search attributes (idempotent).
set -eu
ADDR=${TEMPORAL_ADDRESS:-temporal:7233}
NS=${TEMPORAL_NAMESPACE:-permafrost}
until temporal operator cluster health --address "$ADDR" >/dev/null 2>&1; do sleep 2; done
temporal operator namespace describe --address "$ADDR" -n "$NS" >/dev/null 2>&1 ||
  temporal operator namespace create --address "$ADDR" -n "$NS" --retention 30d
for sa in BackupNode BackupResource BackupKind BackupName; do
  temporal operator search-attribute create --address "$ADDR" -n "$NS" --name "$sa" --type Keyword >/dev/null 2>&1 || true
done
echo "namespace $NS and search attributes ready"
