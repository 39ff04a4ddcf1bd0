import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { backupId } from './shared/naming';
import { placeOf, selectorOf, SERVER_HOST } from './shared/openstack-place';
import type { RestoreServerInput, RestoreServerResult, ServerRecord } from './shared/openstack-types';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { restoredName, temporaryName } from './shared/temporaries';
import { chooseStoredBackup } from './targets';

/**
 * Restores a server backup: the flavor, key pair and networks are checked first; then every disk comes back (the
 * root disk as a temporary image, each volume as a new volume via a temporary image), and a server
 * `<name>~<backup time>` boots from them with the recorded flavor, networks (by name, or as mapped), security
 * groups, key and metadata; a volume-booted server comes back volume-booted. Waits for ACTIVE; ERROR fails with
 * Nova's fault. A failed or cancelled restore deletes the server and volumes it made; temporary images always go.
 */
export async function restoreServer(input: RestoreServerInput): Promise<RestoreServerResult> {
  const wf = workflowInfo().workflowId;
  upsertSearchAttributes([
    { key: BackupKind, value: 'server-restore' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.name },
    { key: BackupResource, value: input.name },
  ]);
  const node = nodeActivities(input.node);
  const place = placeOf(input);
  const selector = selectorOf(input);
  const { ref, record } = await chooseStoredBackup<ServerRecord>(node, selector, SERVER_HOST, 'server');
  const plan = await node.planServerRestore.executeWithOptions({ summary: `check flavor, key pair and networks for ${record.name}` }, [
    {
      ...place,
      record,
      ...(input.flavor !== undefined ? { flavor: input.flavor } : {}),
      ...(input.keyName !== undefined ? { keyName: input.keyName } : {}),
      ...(input.networkMap !== undefined ? { networkMap: input.networkMap } : {}),
      ...(input.availabilityZone !== undefined ? { availabilityZone: input.availabilityZone } : {}),
    },
  ]);
  const serverName = input.serverName ?? restoredName(record.name || record.id, ref.timestamp);

  return withCleanup(async (cleanup) => {
    let finished = false;
    let rootImageId: string | undefined;
    const volumes: { volumeId: string; name: string; bootIndex: number | null }[] = [];
    for (const [i, disk] of record.disks.entries()) {
      const imageName = temporaryName(wf, disk.role === 'root' ? 'root-image' : `image-${i}`);
      cleanup.push('delete temporary image', () =>
        node.deleteTemporaries.executeWithOptions({ summary: `delete image ${imageName}` }, [{ ...place, kind: 'image', name: imageName }])
      );
      const diskRecord = disk.role === 'root' ? disk.image : disk.volume;
      if (!diskRecord) throw new Error(`disk ${i} of ${backupId(ref)} has no record`);
      const { imageId } = await node.uploadBackupToImage.executeWithOptions({ summary: `upload ${backupId(disk.ref)} to image ${imageName}` }, [
        { ...place, ...selector, ref: disk.ref, imageName, record: diskRecord, temporary: true },
      ]);
      if (disk.role === 'root' || !disk.volume) {
        rootImageId = imageId;
        continue;
      }
      const volumeName = restoredName(disk.volume.name || disk.volume.id, ref.timestamp);
      cleanup.push('delete unfinished restored volume', async () => {
        if (finished) return;
        await node.deleteTemporaries.executeWithOptions({ summary: `delete unfinished volume ${volumeName}` }, [{ ...place, kind: 'volume', name: volumeName }]);
      });
      const { volumeId } = await node.createVolumeFromImage.executeWithOptions({ summary: `create volume ${volumeName} from image ${imageId}` }, [
        { ...place, imageId, name: volumeName, record: disk.volume },
      ]);
      volumes.push({ volumeId, name: volumeName, bootIndex: disk.bootIndex });
    }

    cleanup.push('delete unfinished restored server', async () => {
      if (finished) return;
      await node.deleteTemporaries.executeWithOptions({ summary: `delete unfinished server ${serverName}` }, [{ ...place, kind: 'server', name: serverName }]);
    });
    const { serverId } = await node.createRestoredServer.executeWithOptions({ summary: `boot server ${serverName}` }, [
      {
        ...place,
        name: serverName,
        plan,
        metadata: record.metadata,
        ...(rootImageId !== undefined ? { rootImageId } : {}),
        volumes: volumes.map((v) => ({ volumeId: v.volumeId, bootIndex: v.bootIndex })),
      },
    ]);
    for (const v of volumes) {
      const disk = record.disks.find((d) => d.volume && restoredName(d.volume.name || d.volume.id, ref.timestamp) === v.name);
      await node.finishRestoredVolume.executeWithOptions({ summary: `finish volume ${v.volumeId}` }, [{ ...place, volumeId: v.volumeId, bootable: disk?.volume?.bootable ?? false }]);
    }
    await node.finishRestoredServer.executeWithOptions({ summary: `finish server ${serverId}` }, [{ ...place, serverId }]);
    finished = true;
    return { ref, serverId, serverName, volumes: volumes.map((v) => ({ volumeId: v.volumeId, name: v.name })) };
  });
}
