/** backupImage and restoreImage against the lab's real Glance: bytes, formats, visibility, tags, properties. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { waitForStatus } from '../../activities/openstack/wait';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import type { BackupImageInput, BackupImageResult, RestoreImageInput, RestoreImageResult } from '../../workflows/shared/openstack-types';
import { TAG_RESTORE_INCOMPLETE } from '../../workflows/shared/temporaries';
import { labCloud, leftoversOf, openLab } from '../helpers/lab';
import { startTestEnv, testServerAddress } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { saveHistory } from '../replay/save-history';

const MiB = 1024 * 1024;
let env: TestEnv;
let lab: OpenStackClients;
const images: string[] = [];

before(async () => {
  labCloud();
  env = await startTestEnv();
  lab = await openLab();
});

after(async () => {
  for (const id of images) {
    await lab.glance.patch(id, [{ op: 'replace', path: '/protected', value: false }]).catch(() => undefined);
    await lab.glance.delete(id).catch(() => undefined);
  }
  await lab.close();
  await env.shutdown();
});

async function download(id: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of (await lab.glance.download(id)).body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

test('an image with properties: backup, restore as a new image with the same bytes and metadata', async () => {
  const data = Buffer.concat([randomBytes(3 * MiB), Buffer.alloc(5 * MiB)]);
  const src = await lab.glance.create({
    name: 'pf-image-src',
    disk_format: 'qcow2',
    container_format: 'bare',
    min_disk: 2,
    min_ram: 128,
    tags: ['golden', 'linux'],
    os_distro: 'debian',
    hw_disk_bus: 'scsi',
    app_owner: 'team-a',
  });
  images.push(src.id);
  await lab.glance.upload(src.id, Readable.from([data]));
  await waitForStatus(`image ${src.id}`, () => lab.glance.find(src.id), ['active'], { timeoutMs: 60_000 });
  const srcHash = createHash('sha256').update(data).digest('hex');

  const backupWf = `test-backup-image-${src.id}`;
  const input: BackupImageInput = { node: env.node, ...labCloud(), imageId: src.id, storage: { driver: 'local', path: env.storageDir }, compression: 'zstd', segmentSize: 4 * MiB };
  const backup = await env.client.temporal.workflow.execute<(i: BackupImageInput) => Promise<BackupImageResult>>('backupImage', {
    taskQueue: CENTRAL_TASK_QUEUE,
    workflowId: backupWf,
    args: [input],
  });
  assert.equal(backup.stats.bytes, data.length);
  assert.ok(backup.stats.storedBytes < 4 * MiB, `zeros compressed away: ${backup.stats.storedBytes}`);
  assert.equal(backup.image.properties.os_distro, 'debian');
  assert.equal(backup.ref.host, 'image');

  // Protected originals come back protected.
  await lab.glance.patch(src.id, [{ op: 'replace', path: '/protected', value: true }]);
  const restoreWf = `test-restore-image-${src.id}`;
  const restoreInput: RestoreImageInput = { node: env.node, ...labCloud(), storage: { driver: 'local', path: env.storageDir }, name: src.id };
  const restored = await env.client.temporal.workflow.execute<(i: RestoreImageInput) => Promise<RestoreImageResult>>('restoreImage', {
    taskQueue: CENTRAL_TASK_QUEUE,
    workflowId: restoreWf,
    args: [restoreInput],
  });
  images.push(restored.imageId);
  const img = await lab.glance.get(restored.imageId);
  assert.equal(img.status, 'active');
  assert.equal(img.name, `pf-image-src~${backup.ref.timestamp.replace(/\.\d{3}Z$/, 'Z')}`);
  assert.equal(img.disk_format, 'qcow2');
  assert.equal(img.container_format, 'bare');
  assert.equal(img.min_disk, 2);
  assert.equal(img.min_ram, 128);
  assert.deepEqual([...img.tags].sort(), ['golden', 'linux']);
  assert.equal(img.os_distro, 'debian');
  assert.equal(img.hw_disk_bus, 'scsi');
  assert.equal(img.app_owner, 'team-a');
  assert.equal(img.protected, false, 'the backup was taken while the original was unprotected');
  assert.equal(img[TAG_RESTORE_INCOMPLETE], undefined);
  assert.equal(await download(restored.imageId), srcHash, 'restored bytes are identical');
  assert.deepEqual((await leftoversOf(lab, backupWf)), []);
  if (process.env.PERMAFROST_RECORD_HISTORIES) {
    await saveHistory(testServerAddress(), process.env.PERMAFROST_RECORD_HISTORIES, 'backup-image', backupWf);
    await saveHistory(testServerAddress(), process.env.PERMAFROST_RECORD_HISTORIES, 'restore-image', restoreWf);
  }
});

test('restoring a backup that does not exist fails before anything is created', async () => {
  const wf = `test-restore-image-missing-${Date.now()}`;
  const input: RestoreImageInput = { node: env.node, ...labCloud(), storage: { driver: 'local', path: env.storageDir }, name: 'no-such-image' };
  await assert.rejects(
    env.client.temporal.workflow.execute('restoreImage', { taskQueue: CENTRAL_TASK_QUEUE, workflowId: wf, args: [input] }),
    (err: Error) => {
      // WorkflowFailedError -> ActivityFailure -> ApplicationFailure (typed) -> the original error.
      let e: unknown = err;
      while (e instanceof Error && (e as { type?: string }).type === undefined && e.cause instanceof Error) e = e.cause;
      assert.equal((e as { type?: string }).type, 'NoBackupFoundError');
      assert.match((e as Error).message, /no-such-image/);
      return true;
    }
  );
  assert.deepEqual(await leftoversOf(lab, wf), []);
});
