import { upsertSearchAttributes } from '@temporalio/workflow';
import { backupVolume } from './backup-volume';
import { nodeActivities } from './node-activities';
import { runChildren } from './scoped';
import { placeOf } from './shared/openstack-place';
import type { BackupVolumesInput, BackupVolumesResult } from './shared/openstack-types';
import { BackupKind, BackupNode, BackupResource } from './shared/search-attributes';

/**
 * Backs up many volumes (a list, the project's, every project's) as child workflows, `concurrency` at a time. One
 * failure neither stops nor hides the others: the result reports every volume (the CLI exits non-zero when one
 * failed).
 */
export async function backupVolumes(input: BackupVolumesInput): Promise<BackupVolumesResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'volumes' },
    { key: BackupNode, value: input.node },
    { key: BackupResource, value: input.scope.kind === 'list' ? input.scope.volumeIds.join(',') : input.scope.kind },
  ]);
  const node = nodeActivities(input.node);
  const { scope, concurrency, ...rest } = input;
  const ids = await node.listVolumeIds.executeWithOptions({ summary: `list volumes (${scope.kind})` }, [{ ...placeOf(input), scope }]);
  const volumes = await runChildren(ids, concurrency ?? 2, backupVolume, (volumeId) => ({ ...rest, volumeId }));
  const failed = volumes.filter((o) => !o.ok).length;
  return { total: volumes.length, succeeded: volumes.length - failed, failed, volumes };
}
