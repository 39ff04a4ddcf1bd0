/**
 * Many volumes and many servers as child workflows: one child failing neither stops nor hides the others, and the
 * parent reports every one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { waitForStatus, waitGone } from '../../activities/openstack/wait';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import type { BackupServersInput, BackupServersResult, BackupVolumesInput, BackupVolumesResult } from '../../workflows/shared/openstack-types';
import { FaultInjector } from '../helpers/faults';
import { createVolumeWithData, deleteVolume, labCloud, leftoversOf, openLab } from '../helpers/lab';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';

const MiB = 1024 * 1024;
const WAIT = { timeoutMs: 180_000 };
const faults = new FaultInjector();
let env: TestEnv;
let lab: OpenStackClients;
const volumes: string[] = [];
const servers: string[] = [];
const images: string[] = [];

before(async () => {
  labCloud();
  env = await startTestEnv(['central', 'node'], { activityInterceptors: [faults.factory] });
  lab = await openLab();
});

after(async () => {
  faults.disarm();
  for (const id of servers) {
    await lab.nova.deleteServer(id).catch(() => undefined);
    await waitGone(`server ${id}`, () => lab.nova.findServer(id), WAIT).catch(() => undefined);
  }
  for (const id of volumes) await deleteVolume(lab, id).catch(() => undefined);
  for (const id of images) await lab.glance.delete(id).catch(() => undefined);
  await lab.close();
  await env.shutdown();
});

const storage = (): { driver: 'local'; path: string } => ({ driver: 'local', path: env.storageDir });

test('backupVolumes: two volumes, one fails; the other is backed up and both are reported', async () => {
  const a = await createVolumeWithData(lab, { name: 'pf-scope-a', dataBytes: 1 * MiB });
  const b = await createVolumeWithData(lab, { name: 'pf-scope-b', dataBytes: 1 * MiB });
  volumes.push(a.id, b.id);
  faults.arm({ activity: 'createTemporarySnapshot', match: { volumeId: b.id }, mode: 'fail' });
  const workflowId = `test-backup-volumes-${randomBytes(3).toString('hex')}`;
  const input: BackupVolumesInput = {
    node: env.node,
    ...labCloud(),
    scope: { kind: 'list', volumeIds: [a.id, b.id] },
    concurrency: 2,
    storage: storage(),
    compression: 'zstd',
    segmentSize: 8 * MiB,
  };
  const r = await env.client.temporal.workflow.execute<(i: BackupVolumesInput) => Promise<BackupVolumesResult>>('backupVolumes', { taskQueue: CENTRAL_TASK_QUEUE, workflowId, args: [input] });
  faults.disarm();
  assert.equal(r.total, 2);
  assert.equal(r.succeeded, 1);
  assert.equal(r.failed, 1);
  const ok = r.volumes.find((v) => v.id === a.id);
  const bad = r.volumes.find((v) => v.id === b.id);
  assert.equal(ok?.ok, true);
  assert.equal(ok?.result?.volume.name, 'pf-scope-a');
  assert.equal(bad?.ok, false);
  assert.match(bad?.error ?? '', /injected failure/);
  for (const v of r.volumes) assert.deepEqual(await leftoversOf(lab, v.workflowId), [], `nothing of ${v.workflowId} is left`);
});

test('backupServers: two servers, one fails; the other is backed up and both are reported', async () => {
  const img = await lab.glance.create({ name: 'pf-scope-boot', disk_format: 'raw', container_format: 'bare' });
  images.push(img.id);
  await lab.glance.upload(img.id, Readable.from([randomBytes(1 * MiB)]));
  await waitForStatus(`image ${img.id}`, () => lab.glance.find(img.id), ['active'], WAIT);
  const flavor = (await lab.nova.listFlavors()).find((f) => f.name === 'lab.tiny');
  assert.ok(flavor);
  const ids: string[] = [];
  for (const name of ['pf-scope-s1', 'pf-scope-s2']) {
    const { id } = await lab.nova.createServer({ name, imageRef: img.id, flavorRef: flavor.id, networks: 'none' });
    servers.push(id);
    ids.push(id);
  }
  for (const id of ids) await waitForStatus(`server ${id}`, () => lab.nova.findServer(id), ['ACTIVE'], WAIT);
  const [s1 = '', s2 = ''] = ids;
  faults.arm({ activity: 'createServerSnapshot', match: { serverId: s2 }, mode: 'fail' });
  const input: BackupServersInput = {
    node: env.node,
    ...labCloud(),
    scope: { kind: 'list', serverIds: [s1, s2] },
    concurrency: 2,
    storage: storage(),
    compression: 'zstd',
    segmentSize: 8 * MiB,
  };
  const r = await env.client.temporal.workflow.execute<(i: BackupServersInput) => Promise<BackupServersResult>>('backupServers', {
    taskQueue: CENTRAL_TASK_QUEUE,
    workflowId: `test-backup-servers-${randomBytes(3).toString('hex')}`,
    args: [input],
  });
  faults.disarm();
  assert.deepEqual([r.total, r.succeeded, r.failed], [2, 1, 1]);
  assert.equal(r.servers.find((s) => s.id === s1)?.result?.server.name, 'pf-scope-s1');
  assert.match(r.servers.find((s) => s.id === s2)?.error ?? '', /injected failure/);
  for (const s of r.servers) assert.deepEqual(await leftoversOf(lab, s.workflowId), [], `nothing of ${s.workflowId} is left`);
  for (const id of ids) assert.equal((await lab.nova.getServer(id)).status, 'ACTIVE');
});
