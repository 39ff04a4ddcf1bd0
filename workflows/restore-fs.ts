import { patched, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { backupId } from './shared/naming';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { formatStorage } from './shared/storage-url';
import { restorePlanQuery } from './shared/queries';
import type { BackupSummary, RestoreFsInput, RestoreFsResult } from './shared/types';

/** Restores a backup into a folder of a node: select -> plan the chain -> verify and stage every level -> move into place. */
export async function restoreFs(input: RestoreFsInput): Promise<RestoreFsResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'fs-restore' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.name },
    { key: BackupResource, value: input.target },
  ]);
  const node = nodeActivities(input.node);
  const stagingId = workflowInfo().workflowId;
  let plan: BackupSummary[] | undefined;
  setHandler(restorePlanQuery, () => plan);

  const backup = await node.selectBackup.executeWithOptions({ summary: `choose a backup of ${input.host ?? input.node}_${input.name} in ${formatStorage(input.storage)}` }, [
    input,
  ]);
  // Runs recorded before restore plans existed replay without this step.
  if (patched('restore-plan')) {
    plan = await node.planRestore.executeWithOptions({ summary: `plan the restore of ${backupId(backup.ref)}` }, [{ storage: input.storage, ref: backup.ref }]);
    if (input.dryRun) {
      return { ref: backup.ref, target: input.target, files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, warnings: [], chain: plan.map((b) => b.ref), dryRun: true };
    }
  }
  return withCleanup(async (cleanup) => {
    cleanup.push('remove restore staging folder', () =>
      node.discardRestoreStaging.executeWithOptions({ summary: `remove staging folder in ${input.target}` }, [{ target: input.target, stagingId }])
    );
    return node.restoreFilesystem.executeWithOptions({ summary: `verify ${backupId(backup.ref)} and restore it into ${input.target}` }, [
      { ...input, ref: backup.ref, stagingId },
    ]);
  });
}
