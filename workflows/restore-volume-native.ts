import { upsertSearchAttributes } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { placeOf } from './shared/openstack-place';
import type { RestoreVolumeNativeInput, RestoreVolumeNativeResult } from './shared/openstack-types';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';

/**
 * Restores one native Cinder backup, exactly that one: a missing backup, or one that is not available, fails before
 * anything is made (no fallback to another backup). Into a new volume (`volumeName`, default `<volume name>~<backup
 * time>`, which must be free) that Cinder creates, or over `targetVolumeId` (available, detached, big enough).
 * A new volume carries `permafrost_restore_incomplete` until the restore finished; a failed or cancelled run deletes
 * it (after Cinder has stopped writing it), never another volume. An existing target is never deleted.
 */
export async function restoreVolumeNative(input: RestoreVolumeNativeInput): Promise<RestoreVolumeNativeResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'volume-native-restore' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.backupId },
    { key: BackupResource, value: input.targetVolumeId ?? input.backupId },
  ]);
  const node = nodeActivities(input.node);
  const place = placeOf(input);

  const prepared = await node.prepareNativeRestore.executeWithOptions({ summary: `check Cinder backup ${input.backupId}` }, [
    {
      ...place,
      backupId: input.backupId,
      ...(input.targetVolumeId !== undefined ? { targetVolumeId: input.targetVolumeId } : {}),
      ...(input.volumeName !== undefined ? { volumeName: input.volumeName } : {}),
    },
  ]);

  if (input.targetVolumeId !== undefined) {
    const target = input.targetVolumeId;
    await node.restoreNativeBackup.executeWithOptions({ summary: `restore Cinder backup ${input.backupId} over volume ${target}` }, [
      { ...place, backupId: input.backupId, targetVolumeId: target },
    ]);
    await node.finishNativeRestore.executeWithOptions({ summary: `finish volume ${target}` }, [{ ...place, volumeId: target }]);
    return { backupId: input.backupId, volumeId: target, volumeName: prepared.volumeName, into: 'existing' };
  }

  const volumeName = prepared.volumeName;
  let finished = false;
  return withCleanup(async (cleanup) => {
    cleanup.push('delete unfinished restored volume', async () => {
      if (finished) return;
      await node.discardNativeRestore.executeWithOptions({ summary: `delete volume ${volumeName} unless its restore finished` }, [
        { ...place, name: volumeName, backupId: input.backupId },
      ]);
    });
    const { volumeId } = await node.restoreNativeBackup.executeWithOptions({ summary: `restore Cinder backup ${input.backupId} into new volume ${volumeName}` }, [
      { ...place, backupId: input.backupId, volumeName },
    ]);
    await node.finishNativeRestore.executeWithOptions({ summary: `finish volume ${volumeId}` }, [{ ...place, volumeId }]);
    finished = true;
    return { backupId: input.backupId, volumeId, volumeName, into: 'new' as const };
  });
}
