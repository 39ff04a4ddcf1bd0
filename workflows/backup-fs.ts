import { upsertSearchAttributes } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { backupId, formatBackupTimestamp } from './shared/naming';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { formatStorage } from './shared/storage-url';
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
  const storage = formatStorage(input.storage);
  const timestamp = formatBackupTimestamp(new Date()); // workflow time: deterministic on replay

  const plan = await node.planFsBackup.executeWithOptions({ summary: `check ${input.paths.join(', ')} and ${storage}` }, [
    { ...input, timestamp },
  ]);
  return withCleanup(async (cleanup) => {
    cleanup.push('discard uncommitted backup data', () =>
      node.discardUncommittedBackup.executeWithOptions({ summary: `discard uncommitted data of ${backupId(plan.ref)}` }, [
        { storage: input.storage, ref: plan.ref },
      ])
    );
    return node.backupFilesystem.executeWithOptions({ summary: `stream ${input.paths.join(', ')} to ${storage} as ${backupId(plan.ref)}` }, [
      { ...input, ...plan },
    ]);
  });
}
