import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import type { Cleanup } from './shared/cleanup';
import { backupId, formatBackupTimestamp } from './shared/naming';
import { blobOptions, placeOf, SERVER_HOST } from './shared/openstack-place';
import type { BackupServerInput, BackupServerResult, BlobBackupStats, ImageRecord, ServerDisk, ServerRecord, VolumeRecord } from './shared/openstack-types';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { formatStorage } from './shared/storage-url';
import { temporaryName } from './shared/temporaries';
import type { BackupRef, TargetOutcome } from './shared/types';
import { discardUncommittedOnExit, failOnLostTargets } from './targets';

/**
 * Backs up a Nova server: wait until it has no task → createImage → wait active → image-booted: stream the disk
 * image; volume-booted (the image is a stub naming one Cinder snapshot per volume): for every volume, a volume from
 * its snapshot → upload-to-image → stream. Attached data volumes of an image-booted server get a forced snapshot
 * each. Then the server record (flavor, networks, security groups, key, metadata, block devices) is committed.
 * Every temporary is undone in dependency order (images, volumes, snapshots, the server image), always.
 */
export async function backupServer(input: BackupServerInput): Promise<BackupServerResult> {
  const wf = workflowInfo().workflowId;
  const name = input.name ?? input.serverId;
  upsertSearchAttributes([
    { key: BackupKind, value: 'server' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: name },
    { key: BackupResource, value: input.serverId },
  ]);
  const node = nodeActivities(input.node);
  const place = placeOf(input);
  const targets = [input.storage, ...(input.copies ?? [])];
  const timestamp = formatBackupTimestamp(new Date());
  const ref: BackupRef = { host: SERVER_HOST, name, timestamp };
  const idle = input.idleTimeoutMs !== undefined ? { idleTimeoutMs: input.idleTimeoutMs } : {};
  const described = await node.describeServer.executeWithOptions({ summary: `check server ${input.serverId} and wait until it has no task` }, [
    { ...place, serverId: input.serverId, ...idle },
  ]);

  return withCleanup(async (cleanup) => {
    const imageName = temporaryName(wf, 'server-image');
    cleanup.push('delete server snapshot', () =>
      node.deleteServerSnapshot.executeWithOptions({ summary: `delete image ${imageName} and its volume snapshots` }, [{ ...place, imageName }])
    );
    const snapshot = await node.createServerSnapshot.executeWithOptions({ summary: `snapshot server ${input.serverId} (createImage)` }, [
      { ...place, serverId: input.serverId, imageName, ...idle },
    ]);

    const disks: ServerDisk[] = [];
    const stats: BlobBackupStats = { bytes: 0, storedBytes: 0, segments: 0 };
    const outcomes: TargetOutcome[][] = [];
    const stream = async (imageId: string, diskRef: BackupRef, kind: 'image' | 'volume', resource: ImageRecord | VolumeRecord): Promise<void> => {
      discardUncommittedOnExit(cleanup, node, targets, diskRef);
      const stored = await node.streamImageToStorage.executeWithOptions(
        { summary: `stream image ${imageId} to ${targets.map(formatStorage).join(' + ')} as ${backupId(diskRef)}` },
        [{ ...place, imageId, storage: input.storage, ...(input.copies ? { copies: input.copies } : {}), ...blobOptions(input), ref: diskRef, kind, resource }]
      );
      failOnLostTargets(diskRef, stored.targets, stored);
      outcomes.push(stored.targets);
      stats.bytes += stored.stats.bytes;
      stats.storedBytes += stored.stats.storedBytes;
      stats.segments += stored.stats.segments;
    };

    if (!described.server.bootFromVolume) {
      const image = await node.describeSnapshotImage.executeWithOptions({ summary: `read image ${snapshot.imageId}` }, [{ ...place, imageId: snapshot.imageId }]);
      const diskRef = { ...ref, name: `${name}.root` };
      await stream(snapshot.imageId, diskRef, 'image', image);
      disks.push({ ref: diskRef, role: 'root', bootIndex: 0, device: null, deleteOnTermination: true, image });
    }
    for (const [i, v] of described.volumes.entries()) {
      const snapshotId = await volumeSnapshot(cleanup, node, place, wf, i, v.record.id, snapshot.volumeSnapshots[(v.device ?? '').replace(/^\/dev\//, '')]);
      const tempVolume = temporaryName(wf, `volume-${i}`);
      cleanup.push('delete temporary volume', () =>
        node.deleteTemporaries.executeWithOptions({ summary: `delete volume ${tempVolume}` }, [{ ...place, kind: 'volume', name: tempVolume }])
      );
      const { volumeId } = await node.createVolumeFromSnapshot.executeWithOptions({ summary: `volume from snapshot ${snapshotId} (${v.device ?? v.record.id})` }, [
        { ...place, snapshotId, name: tempVolume, size: v.record.size, volumeType: v.record.volumeType, availabilityZone: v.record.availabilityZone },
      ]);
      const tempImage = temporaryName(wf, `image-${i}`);
      cleanup.push('delete temporary image', () =>
        node.deleteTemporaries.executeWithOptions({ summary: `delete image ${tempImage}` }, [{ ...place, kind: 'image', name: tempImage }])
      );
      const format = input.imageFormat ?? 'qcow2';
      const { imageId } = await node.uploadVolumeToImage.executeWithOptions({ summary: `upload volume ${volumeId} to a ${format} image` }, [
        { ...place, volumeId, imageName: tempImage, diskFormat: format },
      ]);
      const record: VolumeRecord = { ...v.record, dataFormat: format };
      const diskRef = { ...ref, name: `${name}.vol-${i}` };
      await stream(imageId, diskRef, 'volume', record);
      disks.push({ ref: diskRef, role: 'volume', bootIndex: v.bootIndex, device: v.device, deleteOnTermination: v.deleteOnTermination, volume: record });
    }

    const server: ServerRecord = { ...described.server, disks };
    await node.commitServerBackup.executeWithOptions({ summary: `commit ${backupId(ref)} (${disks.length} disks)` }, [{ storages: targets, ref, record: server }]);
    return { ref, server, stats, targets: outcomes[0] ?? targets.map((t) => ({ storage: formatStorage(t), committed: true })) };
  });
}

/** The snapshot of one volume: the one createImage made (volume-booted), else a forced one of our own. */
async function volumeSnapshot(
  cleanup: Cleanup,
  node: ReturnType<typeof nodeActivities>,
  place: ReturnType<typeof placeOf>,
  wf: string,
  i: number,
  volumeId: string,
  fromImage: string | undefined
): Promise<string> {
  if (fromImage !== undefined) return fromImage;
  const name = temporaryName(wf, `snapshot-${i}`);
  cleanup.push('delete temporary snapshot', () =>
    node.deleteTemporaries.executeWithOptions({ summary: `delete snapshot ${name}` }, [{ ...place, kind: 'snapshot', name }])
  );
  return (await node.createTemporarySnapshot.executeWithOptions({ summary: `snapshot attached volume ${volumeId} (forced)` }, [{ ...place, volumeId, name, force: true }]))
    .snapshotId;
}
