/**
 * The fault matrix of backupServer and restoreServer on the real lab: every step once failing and once cancelled
 * while in it, for an image-booted server (and the steps only a volume-booted server has). Afterwards nothing the
 * run created exists in Nova, Glance or Cinder, the source server is still ACTIVE, the storage holds no
 * uncommitted data.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { waitForStatus, waitGone } from '../../activities/openstack/wait';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import type { BackupServerInput, RestoreServerInput, RestoreServerResult } from '../../workflows/shared/openstack-types';
import { FaultInjector } from '../helpers/faults';
import { FaultMatrix } from '../helpers/fault-matrix';
import type { FaultCase } from '../helpers/fault-matrix';
import { deleteVolume, labCloud, openLab } from '../helpers/lab';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';

const MiB = 1024 * 1024;
const WAIT = { timeoutMs: 180_000 };
const faults = new FaultInjector();
let env: TestEnv;
let lab: OpenStackClients;
let matrix: FaultMatrix;
let imageServer: string;
let volumeServer: string;
const servers: string[] = [];
const volumes: string[] = [];
const images: string[] = [];

async function flavorId(name: string): Promise<string> {
  const f = (await lab.nova.listFlavors()).find((x) => x.name === name);
  assert.ok(f);
  return f.id;
}

async function activeServer(body: Record<string, unknown>): Promise<string> {
  const { id } = await lab.nova.createServer({ networks: 'none', ...body });
  servers.push(id);
  await waitForStatus(`server ${id}`, () => lab.nova.findServer(id), ['ACTIVE'], WAIT);
  return id;
}

before(async () => {
  labCloud();
  env = await startTestEnv(['central', 'node'], { activityInterceptors: [faults.factory] });
  lab = await openLab();
  matrix = new FaultMatrix(env, lab, faults);
  const img = await lab.glance.create({ name: 'pf-faults-boot', disk_format: 'raw', container_format: 'bare' });
  images.push(img.id);
  await lab.glance.upload(img.id, Readable.from([Buffer.concat([randomBytes(2 * MiB), Buffer.alloc(2 * MiB)])]));
  await waitForStatus(`image ${img.id}`, () => lab.glance.find(img.id), ['active'], WAIT);
  imageServer = await activeServer({ name: 'pf-faults-img', imageRef: img.id, flavorRef: await flavorId('lab.tiny'), metadata: { purpose: 'fault-matrix' } });
  const boot = await lab.cinder.createVolume({ name: 'pf-faults-bfv-root', size: 1, imageRef: img.id });
  volumes.push(boot.id);
  await waitForStatus(`volume ${boot.id}`, () => lab.cinder.findVolume(boot.id), ['available'], WAIT);
  volumeServer = await activeServer({
    name: 'pf-faults-bfv',
    flavorRef: await flavorId('lab.bfv'),
    block_device_mapping_v2: [{ boot_index: 0, uuid: boot.id, source_type: 'volume', destination_type: 'volume', delete_on_termination: false }],
  });
  // The backup every restore case reads.
  await env.client.temporal.workflow.execute('backupServer', { taskQueue: CENTRAL_TASK_QUEUE, workflowId: `faults-base-${imageServer}`, args: [backupInput(imageServer)] });
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

function backupInput(serverId: string): BackupServerInput {
  return { node: env.node, ...labCloud(), serverId, storage: { driver: 'local', path: env.storageDir }, compression: 'zstd', segmentSize: 8 * MiB };
}

async function backup(serverId: string, c: FaultCase, mode: 'fail' | 'cancel'): Promise<void> {
  await matrix.exercise('backupServer', backupInput(serverId), c, mode);
  const s = await lab.nova.getServer(serverId);
  assert.equal(s.status, 'ACTIVE', 'the source server is still ACTIVE');
  assert.equal(s['OS-EXT-STS:task_state'], null);
}

async function restore(c: FaultCase, mode: 'fail' | 'cancel'): Promise<void> {
  const input: RestoreServerInput = { node: env.node, ...labCloud(), storage: { driver: 'local', path: env.storageDir }, name: imageServer };
  await matrix.exercise('restoreServer', input, c, mode, async (result) => {
    // A restore that completed (its undo step was the one hit) keeps exactly its finished server.
    const r = result as RestoreServerResult;
    servers.push(r.serverId);
    return [r.serverId];
  });
}

const IMAGE_BOOTED_BACKUP: FaultCase[] = [
  { label: 'describe server', plan: { activity: 'describeServer' } },
  { label: 'createImage', plan: { activity: 'createServerSnapshot' } },
  { label: 'read snapshot image', plan: { activity: 'describeSnapshotImage' } },
  { label: 'stream root disk', plan: { activity: 'streamImageToStorage', before: true } },
  { label: 'commit', plan: { activity: 'commitServerBackup', before: true } },
  { label: 'delete server image', plan: { activity: 'deleteServerSnapshot' }, undo: true },
];

const VOLUME_BOOTED_BACKUP: FaultCase[] = [
  { label: 'createImage (stub + volume snapshots)', plan: { activity: 'createServerSnapshot' } },
  { label: 'volume from snapshot', plan: { activity: 'createVolumeFromSnapshot' } },
  { label: 'upload-to-image', plan: { activity: 'uploadVolumeToImage' } },
  { label: 'delete temporary volume', plan: { activity: 'deleteTemporaries', match: { kind: 'volume' } }, undo: true },
  { label: 'delete stub image and snapshots', plan: { activity: 'deleteServerSnapshot' }, undo: true },
];

const RESTORE: FaultCase[] = [
  { label: 'select backup', plan: { activity: 'selectBlobBackup' } },
  { label: 'check flavor/key/networks', plan: { activity: 'planServerRestore' } },
  { label: 'upload root disk', plan: { activity: 'uploadBackupToImage' } },
  { label: 'boot server', plan: { activity: 'createRestoredServer' } },
  { label: 'finish server', plan: { activity: 'finishRestoredServer' } },
  { label: 'delete temporary image', plan: { activity: 'deleteTemporaries', match: { kind: 'image' } }, undo: true },
];

describe('backupServer fault matrix (image-booted)', () => {
  for (const c of IMAGE_BOOTED_BACKUP) {
    test(`${c.label}: fails`, () => backup(imageServer, c, 'fail'));
    test(`${c.label}: cancelled`, () => backup(imageServer, c, 'cancel'));
  }
});

describe('backupServer fault matrix (volume-booted)', () => {
  for (const c of VOLUME_BOOTED_BACKUP) {
    test(`${c.label}: fails`, () => backup(volumeServer, c, 'fail'));
    test(`${c.label}: cancelled`, () => backup(volumeServer, c, 'cancel'));
  }
});

describe('restoreServer fault matrix', () => {
  for (const c of RESTORE) {
    test(`${c.label}: fails`, () => restore(c, 'fail'));
    test(`${c.label}: cancelled`, () => restore(c, 'cancel'));
  }
});
