import { upsertSearchAttributes } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { formatBackupTimestamp } from './shared/naming';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import type { BackupFsInput, BackupFsResult } from './shared/types';

/** Backs up folders of a node into a storage: plan -> stream -> commit; uncommitted data never outlives the run. */
export async function backupFs(input: BackupFsInput): Promise<BackupFsResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'fs' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.name },
    { key: BackupResource, value: input.paths.join(',') },
  ]);
  const node = nodeActivities(input.node);
  const timestamp = formatBackupTimestamp(new Date()); // workflow time: deterministic on replay

  const plan = await node.planFsBackup({ ...input, timestamp });
  return withCleanup(async (cleanup) => {
    cleanup.push('discard uncommitted backup data', () => node.discardUncommittedBackup({ storage: input.storage, ref: plan.ref }));
    return node.backupFilesystem({ ...input, ...plan });
  });
}
