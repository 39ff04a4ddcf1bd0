import { upsertSearchAttributes } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { discardUncommittedOnExit, failOnLostTargets } from './targets';
import { backupId, formatBackupTimestamp } from './shared/naming';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { formatStorage } from './shared/storage-url';
import type { BackupFsInput, BackupFsResult } from './shared/types';

/**
 * Backs up folders of a node into one or more storages: plan -> stream (fan-out) -> commit; uncommitted data never
 * outlives the run, and a target that failed fails the run with a per-target report.
 */
export async function backupFs(input: BackupFsInput): Promise<BackupFsResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'fs' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.name },
    { key: BackupResource, value: input.paths.join(',') },
  ]);
  const node = nodeActivities(input.node);
  const targets = [input.storage, ...(input.copies ?? [])];
  const timestamp = formatBackupTimestamp(new Date()); // workflow time: deterministic on replay

  const plan = await node.planFsBackup.executeWithOptions({ summary: `check ${input.paths.join(', ')} and ${targets.map(formatStorage).join(' + ')}` }, [
    { ...input, timestamp },
  ]);
  return withCleanup(async (cleanup) => {
    discardUncommittedOnExit(cleanup, node, targets, plan.ref);
    const result = await node.backupFilesystem.executeWithOptions(
      { summary: `stream ${input.paths.join(', ')} to ${targets.map(formatStorage).join(' + ')} as ${backupId(plan.ref)}` },
      [{ ...input, ...plan }]
    );
    // Workers older than fan-out return no `targets`; their single target committed when the step succeeded.
    failOnLostTargets(plan.ref, result.targets ?? [], result);
    return result;
  });
}
