import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
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

  const backup = await node.selectBackup(input);
  return withCleanup(async (cleanup) => {
    cleanup.push('remove restore staging folder', () => node.discardRestoreStaging({ target: input.target, stagingId }));
    return node.restoreFilesystem({ ...input, ref: backup.ref, stagingId });
  });
}
