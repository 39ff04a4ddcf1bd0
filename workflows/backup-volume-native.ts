import { ApplicationFailure, log, upsertSearchAttributes } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { formatBackupTimestamp } from './shared/naming';
import { invalidKeep, planNativeRotation } from './shared/native-rotation';
import { placeOf } from './shared/openstack-place';
import type { BackupVolumeNativeInput, BackupVolumeNativeResult, NativeBackupRecord } from './shared/openstack-types';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';

/**
 * A native Cinder backup of one volume: Cinder's backup service stores it, permafrost starts it (incremental when
 * Cinder can build on an available backup, unless a full one is asked for), waits until it is available, then
 * rotates: with `keep`, the N newest backups permafrost made of this volume stay with everything they build on; the
 * older ones are deleted, dependants first. Backups permafrost did not make are never touched.
 *
 * The backup's deletion is registered before it is started: a failed or cancelled run deletes it (after Cinder has
 * finished writing it: a backup being created cannot be deleted). Once it is available, it stays.
 */
export async function backupVolumeNative(input: BackupVolumeNativeInput): Promise<BackupVolumeNativeResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'volume-native' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.volumeId },
    { key: BackupResource, value: input.volumeId },
  ]);
  if (input.keep !== undefined) {
    const problem = invalidKeep(input.keep);
    if (problem !== undefined) throw ApplicationFailure.nonRetryable(problem, 'InvalidInputError');
  }
  const node = nodeActivities(input.node);
  const place = placeOf(input);
  const name = `permafrost-${input.volumeId}-${formatBackupTimestamp(new Date())}`;

  let available = false;
  const backup: NativeBackupRecord = await withCleanup(async (cleanup) => {
    cleanup.push('delete unfinished Cinder backup', async () => {
      if (available) return;
      await node.deleteTemporaries.executeWithOptions({ summary: `delete Cinder backup ${name} (unfinished)` }, [{ ...place, kind: 'backup', name }]);
    });
    const made = await node.createNativeBackup.executeWithOptions(
      { summary: `Cinder ${input.incremental === false ? 'full' : 'incremental or full'} backup of volume ${input.volumeId}` },
      [
        {
          ...place,
          volumeId: input.volumeId,
          name,
          incremental: input.incremental !== false,
          ...(input.container !== undefined ? { container: input.container } : {}),
        },
      ]
    );
    available = true;
    return made;
  });

  const result: BackupVolumeNativeResult = { backup, rotated: [] };
  if (input.keep === undefined) return result;

  const keep = input.keep;
  const backups = await node.listManagedBackups.executeWithOptions({ summary: `list Cinder backups of volume ${input.volumeId}` }, [{ ...place, volumeId: input.volumeId }]);
  const plan = planNativeRotation(backups, keep);
  log.info('rotation plan', { volumeId: input.volumeId, keep, kept: plan.keep, delete: plan.delete, leftAlone: plan.leftAlone });
  const refused: { id: string; reason: string }[] = [];
  for (const id of plan.delete) {
    try {
      const r = await node.deleteNativeBackup.executeWithOptions({ summary: `delete Cinder backup ${id} (keep ${keep})` }, [{ ...place, backupId: id, volumeId: input.volumeId }]);
      if (r.deleted) result.rotated.push(id);
      if (r.refused !== undefined) refused.push({ id, reason: r.refused });
    } catch (err) {
      throw ApplicationFailure.nonRetryable(
        `Cinder backup ${backup.id} of volume ${input.volumeId} is available, but its rotation failed deleting ${id} (deleted so far: ${result.rotated.join(', ') || 'none'}): ${
          err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)
        }`,
        'NativeRotationError',
        result
      );
    }
  }
  if (refused.length > 0) {
    result.rotationRefused = refused;
    log.warn('rotation left backups it may not delete', { refused });
  }
  return result;
}
