/** backupServer and restoreServer against the lab's real Nova (fake virt driver with real disk bytes), Cinder and Glance. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { waitForStatus, waitGone } from '../../activities/openstack/wait';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import type { BackupServerInput, BackupServerResult, RestoreServerInput, RestoreServerResult } from '../../workflows/shared/openstack-types';
import { TAG_RESTORE_INCOMPLETE } from '../../workflows/shared/temporaries';
import { createVolumeWithData, deleteVolume, fileSha256, labCloud, leftoversOf, nfsVolumePath, openLab, serverDiskPath } from '../helpers/lab';
import { startTestEnv, testServerAddress } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { saveHistory } from '../replay/save-history';

const MiB = 1024 * 1024;
const WAIT = { timeoutMs: 180_000 };
let env: TestEnv;
let lab: OpenStackClients;
const servers: string[] = [];
const volumes: string[] = [];
const images: string[] = [];
const keypair = `pf-key-${randomBytes(3).toString('hex')}`;

before(async () => {
  labCloud();
  env = await startTestEnv();
  lab = await openLab();
  await lab.nova.createKeypair(keypair);
});

after(async () => {
  for (const id of servers) {
    await lab.nova.deleteServer(id).catch(() => undefined);
    await waitGone(`server ${id}`, () => lab.nova.findServer(id), WAIT).catch(() => undefined);
  }
  for (const id of volumes) await deleteVolume(lab, id).catch(() => undefined);
  for (const id of images) await lab.glance.delete(id).catch(() => undefined);
  await lab.nova.deleteKeypair(keypair).catch(() => undefined);
  await lab.close();
  await env.shutdown();
});

async function flavorId(name: string): Promise<string> {
  const f = (await lab.nova.listFlavors()).find((x) => x.name === name);
  assert.ok(f, `flavor ${name}`);
  return f.id;
}

async function bootImage(): Promise<string> {
  const data = Buffer.concat([randomBytes(4 * MiB), Buffer.alloc(4 * MiB)]);
  const img = await lab.glance.create({ name: 'pf-server-boot', disk_format: 'raw', container_format: 'bare' });
  images.push(img.id);
  await lab.glance.upload(img.id, Readable.from([data]));
  await waitForStatus(`image ${img.id}`, () => lab.glance.find(img.id), ['active'], WAIT);
  return img.id;
}

async function activeServer(body: Record<string, unknown>): Promise<string> {
  const { id } = await lab.nova.createServer({ networks: 'none', key_name: keypair, ...body });
  servers.push(id);
  await waitForStatus(`server ${id}`, () => lab.nova.findServer(id), ['ACTIVE'], WAIT);
  return id;
}

function backupInput(serverId: string): BackupServerInput {
  return { node: env.node, ...labCloud(), serverId, storage: { driver: 'local', path: env.storageDir }, compression: 'zstd', segmentSize: 8 * MiB };
}

async function restore(name: string, workflowId: string): Promise<RestoreServerResult> {
  const input: RestoreServerInput = { node: env.node, ...labCloud(), storage: { driver: 'local', path: env.storageDir }, name };
  const r = await env.client.temporal.workflow.execute<(i: RestoreServerInput) => Promise<RestoreServerResult>>('restoreServer', { taskQueue: CENTRAL_TASK_QUEUE, workflowId, args: [input] });
  servers.push(r.serverId);
  volumes.push(...r.volumes.map((v) => v.volumeId));
  return r;
}

test('image-booted server with a data volume: backup, restore, same disk bytes, same flavor/key/metadata', async () => {
  const image = await bootImage();
  const src = await activeServer({ name: 'pf-web', imageRef: image, flavorRef: await flavorId('lab.tiny'), metadata: { role: 'web' } });
  const data = await createVolumeWithData(lab, { name: 'pf-web-data', dataBytes: 3 * MiB, metadata: { mount: '/srv' } });
  volumes.push(data.id);
  await lab.nova.attachVolume(src, data.id);
  await waitForStatus(`volume ${data.id}`, () => lab.cinder.findVolume(data.id), ['in-use'], WAIT);
  const rootHash = await fileSha256(serverDiskPath(src));

  const backupWf = `test-backup-server-${src}`;
  const backup = await env.client.temporal.workflow.execute<(i: BackupServerInput) => Promise<BackupServerResult>>('backupServer', {
    taskQueue: CENTRAL_TASK_QUEUE,
    workflowId: backupWf,
    args: [backupInput(src)],
  });
  assert.equal(backup.server.bootFromVolume, false);
  assert.equal(backup.server.flavor.name, 'lab.tiny');
  assert.equal(backup.server.keyName, keypair);
  assert.deepEqual(backup.server.metadata, { role: 'web' });
  assert.deepEqual(backup.server.disks.map((d) => d.role), ['root', 'volume']);
  // 4 MiB random + 4 MiB zeros on the root disk, 3 MiB random on the 1 GiB data volume: only the random bytes cost space.
  assert.ok(backup.stats.storedBytes < 8 * MiB, `zeros not stored: ${backup.stats.storedBytes} stored of ${backup.stats.bytes} read`);
  assert.deepEqual(await leftoversOf(lab, backupWf), [], 'no image, snapshot or volume of the backup is left');
  assert.equal((await lab.nova.getServer(src)).status, 'ACTIVE', 'the source server is still ACTIVE');

  const restoreWf = `test-restore-server-${src}`;
  const r = await restore(src, restoreWf);
  const s = await lab.nova.getServer(r.serverId);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s.name, `pf-web~${backup.ref.timestamp.replace(/\.\d{3}Z$/, 'Z')}`);
  assert.equal(s.flavor.original_name, 'lab.tiny');
  assert.equal(s.key_name, keypair);
  assert.equal(s.metadata.role, 'web');
  assert.equal(s.metadata[TAG_RESTORE_INCOMPLETE], undefined);
  assert.equal(await fileSha256(serverDiskPath(r.serverId)), rootHash, 'the restored root disk holds the same bytes');
  assert.equal(r.volumes.length, 1);
  const restoredVolume = await lab.cinder.getVolume(r.volumes[0]!.volumeId);
  assert.equal(restoredVolume.status, 'in-use', 'the data volume is attached to the restored server');
  assert.equal(restoredVolume.metadata.mount, '/srv');
  assert.equal(await fileSha256(nfsVolumePath(restoredVolume.id)), data.sha256, 'the data volume holds the same bytes');
  assert.deepEqual((await leftoversOf(lab, restoreWf)).filter((x) => x.id !== r.serverId && x.id !== restoredVolume.id), [], 'temporary images are gone');
  if (process.env.PERMAFROST_RECORD_HISTORIES) {
    await saveHistory(testServerAddress(), process.env.PERMAFROST_RECORD_HISTORIES, 'backup-server', backupWf);
    await saveHistory(testServerAddress(), process.env.PERMAFROST_RECORD_HISTORIES, 'restore-server', restoreWf);
  }
});

test('volume-booted server: backup through createImage snapshots, restore boots from a volume again', async () => {
  const image = await bootImage();
  const boot = await lab.cinder.createVolume({ name: 'pf-bfv-root', size: 1, imageRef: image });
  volumes.push(boot.id);
  await waitForStatus(`volume ${boot.id}`, () => lab.cinder.findVolume(boot.id), ['available'], WAIT);
  const bootHash = await fileSha256(nfsVolumePath(boot.id));
  const src = await activeServer({
    name: 'pf-bfv',
    flavorRef: await flavorId('lab.bfv'),
    block_device_mapping_v2: [{ boot_index: 0, uuid: boot.id, source_type: 'volume', destination_type: 'volume', delete_on_termination: false }],
  });

  const backupWf = `test-backup-server-bfv-${src}`;
  const backup = await env.client.temporal.workflow.execute<(i: BackupServerInput) => Promise<BackupServerResult>>('backupServer', {
    taskQueue: CENTRAL_TASK_QUEUE,
    workflowId: backupWf,
    args: [backupInput(src)],
  });
  assert.equal(backup.server.bootFromVolume, true);
  assert.deepEqual(backup.server.disks.map((d) => [d.role, d.bootIndex]), [['volume', 0]]);
  assert.deepEqual(await leftoversOf(lab, backupWf), [], 'the stub image, its snapshots and every temporary are gone');
  assert.equal((await lab.nova.getServer(src)).status, 'ACTIVE');

  const r = await restore(src, `test-restore-server-bfv-${src}`);
  const s = await lab.nova.getServer(r.serverId);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s.image, '', 'booted from a volume again');
  const attached = s['os-extended-volumes:volumes_attached'] ?? [];
  assert.equal(attached.length, 1);
  assert.equal(attached[0]!.id, r.volumes[0]!.volumeId);
  assert.equal(await fileSha256(nfsVolumePath(r.volumes[0]!.volumeId)), bootHash, 'the boot volume holds the same bytes');
});
