import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { backupId, formatBackupTimestamp } from './shared/naming';
import { blobOptions, placeOf, VOLUME_HOST } from './shared/openstack-place';
import type { BackupVolumeInput, BackupVolumeResult, VolumeRecord } from './shared/openstack-types';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { formatStorage } from './shared/storage-url';
import { temporaryName } from './shared/temporaries';
import type { BackupRef } from './shared/types';
import { discardUncommittedOnExit, failOnLostTargets } from './targets';

/**
 * Backs up a Cinder volume through Glance: snapshot -> volume from the snapshot -> upload-to-image -> stream the
 * image into storage. Every temporary's deletion is registered before it is created, and the undo runs on success,
 * failure and cancel alike, in dependency order (image, volume, snapshot), each until it is really gone. The volume
 * and the snapshot go as soon as the image is active, while the image streams.
 */
export async function backupVolume(input: BackupVolumeInput): Promise<BackupVolumeResult> {
  const wf = workflowInfo().workflowId;
  const name = input.name ?? input.volumeId;
  upsertSearchAttributes([
    { key: BackupKind, value: 'volume' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: name },
    { key: BackupResource, value: input.volumeId },
  ]);
  const node = nodeActivities(input.node);
  const place = placeOf(input);
  const targets = [input.storage, ...(input.copies ?? [])];
  const ref: BackupRef = { host: VOLUME_HOST, name, timestamp: formatBackupTimestamp(new Date()) };
  const temp = { snapshot: temporaryName(wf, 'snapshot'), volume: temporaryName(wf, 'volume'), image: temporaryName(wf, 'image') };

  const described = await node.describeVolume.executeWithOptions({ summary: `check volume ${input.volumeId}` }, [{ ...place, volumeId: input.volumeId }]);
  const format = input.imageFormat ?? 'qcow2';
  const volume: VolumeRecord = { ...described, dataFormat: format };

  return withCleanup(async (cleanup) => {
    const undoSnapshot = cleanup.push('delete temporary snapshot', () =>
      node.deleteTemporaries.executeWithOptions({ summary: `delete snapshot ${temp.snapshot}` }, [{ ...place, kind: 'snapshot', name: temp.snapshot }])
    );
    const { snapshotId } = await node.createTemporarySnapshot.executeWithOptions(
      { summary: `snapshot volume ${input.volumeId}${volume.attached ? ' (attached: forced)' : ''}` },
      [{ ...place, volumeId: input.volumeId, name: temp.snapshot, force: volume.attached }]
    );

    const undoVolume = cleanup.push('delete temporary volume', () =>
      node.deleteTemporaries.executeWithOptions({ summary: `delete volume ${temp.volume}` }, [{ ...place, kind: 'volume', name: temp.volume }])
    );
    const { volumeId } = await node.createVolumeFromSnapshot.executeWithOptions({ summary: `volume from snapshot ${snapshotId}` }, [
      { ...place, snapshotId, name: temp.volume, size: volume.size, volumeType: volume.volumeType, availabilityZone: volume.availabilityZone },
    ]);

    cleanup.push('delete temporary image', () =>
      node.deleteTemporaries.executeWithOptions({ summary: `delete image ${temp.image}` }, [{ ...place, kind: 'image', name: temp.image }])
    );
    const { imageId } = await node.uploadVolumeToImage.executeWithOptions({ summary: `upload volume ${volumeId} to a ${format} image` }, [
      { ...place, volumeId, imageName: temp.image, diskFormat: format },
    ]);

    // The image holds the bytes now: free the temporary volume, then the snapshot, while the image streams.
    const freed = (async () => {
      await undoVolume.runNow();
      await undoSnapshot.runNow();
    })();
    discardUncommittedOnExit(cleanup, node, targets, ref);
    const stored = await node.streamImageToStorage.executeWithOptions(
      { summary: `stream image ${imageId} to ${targets.map(formatStorage).join(' + ')} as ${backupId(ref)}` },
      [{ ...place, imageId, storage: input.storage, ...(input.copies ? { copies: input.copies } : {}), ...blobOptions(input), ref, kind: 'volume', resource: volume }]
    );
    await freed;
    const result: BackupVolumeResult = { ref, volume, stats: stored.stats, targets: stored.targets };
    failOnLostTargets(ref, stored.targets, result);
    return result;
  });
}
