import { upsertSearchAttributes } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { formatDuration } from './shared/retention';
import { BackupKind, BackupNode, BackupResource } from './shared/search-attributes';
import { formatStorage } from './shared/storage-url';
import type { CollectGarbageInput, CollectGarbageResult } from './shared/types';

/**
 * Removes uncommitted data from a storage: `<host>_<name>/<timestamp>/` folders without a manifest (left by crashes,
 * cancelled runs whose undo did not finish, half-done deletions), temp files included, whose timestamp is older than
 * the grace period. Folders with a manifest are never touched; newer ones may belong to a running backup.
 * find -> (unless a dry run) remove exactly what was found, each folder checked again before it goes.
 */
export async function collectGarbage(input: CollectGarbageInput): Promise<CollectGarbageResult> {
  const storage = formatStorage(input.storage);
  upsertSearchAttributes([
    { key: BackupKind, value: 'gc' },
    { key: BackupNode, value: input.node },
    { key: BackupResource, value: storage },
  ]);
  const node = nodeActivities(input.node);
  const now = new Date(); // workflow time: replays identically
  const scope = { storage: input.storage, graceMs: input.graceMs, now: now.toISOString() };
  const grace = formatDuration(input.graceMs);

  const found = await node.findUncommitted.executeWithOptions({ summary: `find uncommitted folders older than ${grace} in ${storage}` }, [scope]);
  const result: CollectGarbageResult = {
    storage,
    dryRun: input.dryRun,
    graceMs: input.graceMs,
    cutoff: new Date(now.getTime() - input.graceMs).toISOString(),
    found,
    removed: [],
    skipped: [],
  };
  if (input.dryRun || found.length === 0) return result;
  const { removed, skipped } = await node.removeUncommitted.executeWithOptions(
    { summary: `remove ${found.length} uncommitted folder${found.length === 1 ? '' : 's'} from ${storage}` },
    [{ ...scope, refs: found.map((f) => f.ref) }]
  );
  return { ...result, removed, skipped };
}
