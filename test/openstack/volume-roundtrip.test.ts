/** backupVolume and restoreVolume against the lab's real Keystone, Glance and Cinder, byte for byte. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { waitForStatus } from '../../activities/openstack/wait';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import type { BackupVolumeInput, BackupVolumeResult, RestoreVolumeInput, RestoreVolumeResult } from '../../workflows/shared/openstack-types';
import { TAG_RESTORE_INCOMPLETE } from '../../workflows/shared/temporaries';
import { activityTypes, startTestEnv, testServerAddress } from '../helpers/temporal';
import { saveHistory } from '../replay/save-history';
import type { TestEnv } from '../helpers/temporal';
import { createVolumeWithData, deleteVolume, fileSha256, labCloud, leftoversOf, nfsVolumePath, openLab } from '../helpers/lab';

const MiB = 1024 * 1024;
let env: TestEnv;
let lab: OpenStackClients;
const created: string[] = [];

before(async () => {
  labCloud();
  env = await startTestEnv();
  lab = await openLab();
});

after(async () => {
  for (const id of created) await deleteVolume(lab, id).catch(() => undefined);
  await lab.close();
  await env.shutdown();
});

function backupInput(volumeId: string): BackupVolumeInput {
  return { node: env.node, ...labCloud(), volumeId, storage: { driver: 'local', path: env.storageDir }, compression: 'zstd', segmentSize: 8 * MiB };
}

test('a 1 GiB volume with 64 MiB of random bytes: backup, restore, identical bytes, nothing left behind', async () => {
  const src = await createVolumeWithData(lab, { name: 'pf-roundtrip-src', dataBytes: 64 * MiB, metadata: { app: 'db', tier: 'gold' } });
  created.push(src.id);

  const backupId = `test-backup-volume-${src.id}`;
  const backup = await env.client.temporal.workflow.execute<(i: BackupVolumeInput) => Promise<BackupVolumeResult>>('backupVolume', {
    taskQueue: CENTRAL_TASK_QUEUE,
    workflowId: backupId,
    args: [backupInput(src.id)],
  });
  // Cinder hands the volume over as qcow2: the 960 MiB never written are not even read.
  assert.equal(backup.volume.dataFormat, 'qcow2');
  assert.ok(backup.stats.bytes > 64 * MiB && backup.stats.bytes < 80 * MiB, `qcow2 stream of 64 MiB of data: ${backup.stats.bytes}`);
  assert.ok(backup.stats.storedBytes < 80 * MiB, `zeros never stored: ${backup.stats.storedBytes}`);
  assert.equal(backup.volume.name, 'pf-roundtrip-src');
  assert.deepEqual(backup.volume.metadata, { app: 'db', tier: 'gold' });
  assert.deepEqual(await leftoversOf(lab, backupId), [], 'no snapshot, volume or image of the backup is left');
  const source = await lab.cinder.getVolume(src.id);
  assert.equal(source.status, 'available');
  assert.equal(await fileSha256(nfsVolumePath(src.id)), src.sha256, 'the source volume is untouched');
  const steps = await activityTypes(env.client, backupId);
  assert.deepEqual(
    steps.filter((s) => s !== 'discardUncommittedBackup'),
    // The temporary volume and snapshot go while the image streams; the image goes last.
    ['describeVolume', 'createTemporarySnapshot', 'createVolumeFromSnapshot', 'uploadVolumeToImage', 'deleteTemporaries', 'streamImageToStorage', 'deleteTemporaries', 'deleteTemporaries']
  );

  const restoreId = `test-restore-volume-${src.id}`;
  const input: RestoreVolumeInput = { node: env.node, ...labCloud(), storage: { driver: 'local', path: env.storageDir }, name: src.id };
  const restored = await env.client.temporal.workflow.execute<(i: RestoreVolumeInput) => Promise<RestoreVolumeResult>>('restoreVolume', { taskQueue: CENTRAL_TASK_QUEUE, workflowId: restoreId, args: [input] });
  created.push(restored.volumeId);
  assert.equal(restored.into, 'new');
  assert.equal(restored.volumeName, `pf-roundtrip-src~${backup.ref.timestamp.replace(/\.\d{3}Z$/, 'Z')}`);
  const volume = await lab.cinder.getVolume(restored.volumeId);
  assert.equal(volume.status, 'available');
  assert.equal(volume.size, 1);
  assert.equal(volume.metadata.app, 'db');
  assert.equal(volume.metadata.tier, 'gold');
  assert.equal(volume.metadata[TAG_RESTORE_INCOMPLETE], undefined);
  assert.equal(await fileSha256(nfsVolumePath(restored.volumeId)), src.sha256, 'restored bytes are identical');
  assert.deepEqual(
    (await leftoversOf(lab, restoreId)).filter((r) => r.id !== restored.volumeId),
    [],
    'the temporary image is gone'
  );

  // Into an existing detached volume (Cinder reimage): asked for, so it overwrites; the bytes are the backup's.
  const target = await lab.cinder.createVolume({ name: 'pf-roundtrip-target', size: 1 });
  created.push(target.id);
  await waitForStatus(`volume ${target.id}`, () => lab.cinder.findVolume(target.id), ['available'], { timeoutMs: 120_000 });
  const into = await env.client.temporal.workflow.execute<(i: RestoreVolumeInput) => Promise<RestoreVolumeResult>>('restoreVolume', {
    taskQueue: CENTRAL_TASK_QUEUE,
    workflowId: `${restoreId}-into`,
    args: [{ ...input, targetVolumeId: target.id }],
  });
  assert.equal(into.into, 'existing');
  assert.equal(into.volumeId, target.id);
  assert.equal((await lab.cinder.getVolume(target.id)).status, 'available');
  assert.equal(await fileSha256(nfsVolumePath(target.id)), src.sha256, 'the target volume now holds the backup');
  assert.deepEqual((await leftoversOf(lab, `${restoreId}-into`)).filter((r) => r.id !== target.id), [], 'the temporary image is gone');

  if (process.env.PERMAFROST_RECORD_HISTORIES) {
    await saveHistory(testServerAddress(), process.env.PERMAFROST_RECORD_HISTORIES, 'backup-volume', backupId);
    await saveHistory(testServerAddress(), process.env.PERMAFROST_RECORD_HISTORIES, 'restore-volume', restoreId);
  }
});
