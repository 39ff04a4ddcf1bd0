import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { backupId } from './shared/naming';
import { placeOf, selectorOf, VOLUME_HOST } from './shared/openstack-place';
import type { RestoreVolumeInput, RestoreVolumeResult, VolumeRecord } from './shared/openstack-types';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { restoredName, temporaryName } from './shared/temporaries';
import { chooseStoredBackup } from './targets';

/**
 * Restores a volume backup: stream -> image -> new volume (`<name>~<backup time>`, the original's size, type, AZ,
 * metadata and bootable flag) -> delete the image. With `targetVolumeId`, the detached volume is overwritten
 * instead (Cinder reimage). A restore that fails or is cancelled deletes the volume it was making, never another.
 */
export async function restoreVolume(input: RestoreVolumeInput): Promise<RestoreVolumeResult> {
  const wf = workflowInfo().workflowId;
  upsertSearchAttributes([
    { key: BackupKind, value: 'volume-restore' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.name },
    { key: BackupResource, value: input.targetVolumeId ?? input.name },
  ]);
  const node = nodeActivities(input.node);
  const place = placeOf(input);
  const selector = selectorOf(input);

  const { chosen, ref, record } = await chooseStoredBackup<VolumeRecord>(node, selector, VOLUME_HOST, 'volume');
  if (input.targetVolumeId) {
    await node.checkRestoreTarget.executeWithOptions({ summary: `check target volume ${input.targetVolumeId}` }, [
      { ...place, volumeId: input.targetVolumeId, bytes: chosen.stats.bytes },
    ]);
  }
  const imageName = temporaryName(wf, 'image');
  const volumeName = input.volumeName ?? restoredName(record.name || record.id, ref.timestamp);

  return withCleanup(async (cleanup) => {
    cleanup.push('delete temporary image', () =>
      node.deleteTemporaries.executeWithOptions({ summary: `delete image ${imageName}` }, [{ ...place, kind: 'image', name: imageName }])
    );
    const { imageId } = await node.uploadBackupToImage.executeWithOptions({ summary: `upload ${backupId(ref)} to image ${imageName}` }, [
      { ...place, ...selector, ref, imageName, record, temporary: true },
    ]);

    if (input.targetVolumeId) {
      await node.reimageVolume.executeWithOptions({ summary: `overwrite volume ${input.targetVolumeId} with image ${imageId}` }, [
        { ...place, volumeId: input.targetVolumeId, imageId },
      ]);
      await node.finishRestoredVolume.executeWithOptions({ summary: `finish volume ${input.targetVolumeId}` }, [
        { ...place, volumeId: input.targetVolumeId, bootable: record.bootable },
      ]);
      return { ref, volumeId: input.targetVolumeId, volumeName, size: record.size, into: 'existing' as const };
    }

    // Until the restore has finished, a failure or cancel deletes the volume it was making (and only that one).
    let finished = false;
    cleanup.push('delete unfinished restored volume', async () => {
      if (finished) return;
      await node.deleteTemporaries.executeWithOptions({ summary: `delete unfinished volume ${volumeName}` }, [{ ...place, kind: 'volume', name: volumeName }]);
    });
    const { volumeId } = await node.createVolumeFromImage.executeWithOptions({ summary: `create volume ${volumeName} from image ${imageId}` }, [
      {
        ...place,
        imageId,
        name: volumeName,
        record,
        ...(input.volumeType !== undefined ? { volumeType: input.volumeType } : {}),
        ...(input.availabilityZone !== undefined ? { availabilityZone: input.availabilityZone } : {}),
      },
    ]);
    await node.finishRestoredVolume.executeWithOptions({ summary: `finish volume ${volumeId}` }, [{ ...place, volumeId, bootable: record.bootable }]);
    finished = true;
    return { ref, volumeId, volumeName, size: record.size, into: 'new' as const };
  });
}
