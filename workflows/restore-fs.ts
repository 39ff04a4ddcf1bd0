import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { backupId } from './shared/naming';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { formatStorage } from './shared/storage-url';
import type { RestoreFsInput, RestoreFsResult } from './shared/types';

/** Restores a backup into a folder of a node: select -> verify and stage -> move into place. */
export async function restoreFs(input: RestoreFsInput): Promise<RestoreFsResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'fs-restore' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.name },
    { key: BackupResource, value: input.target },
  ]);
  const node = nodeActivities(input.node);
  const stagingId = workflowInfo().workflowId;

  const backup = await node.selectBackup.executeWithOptions({ summary: `choose a backup of ${input.host ?? input.node}_${input.name} in ${formatStorage(input.storage)}` }, [
    input,
  ]);
  return withCleanup(async (cleanup) => {
    cleanup.push('remove restore staging folder', () =>
      node.discardRestoreStaging.executeWithOptions({ summary: `remove staging folder in ${input.target}` }, [{ target: input.target, stagingId }])
    );
    return node.restoreFilesystem.executeWithOptions({ summary: `verify ${backupId(backup.ref)} and restore it into ${input.target}` }, [
      { ...input, ref: backup.ref, stagingId },
    ]);
  });
}
