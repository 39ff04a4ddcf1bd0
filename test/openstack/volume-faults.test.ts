/**
 * The fault matrix of backupVolume and restoreVolume on the real lab: every step once failing and once cancelled
 * while in it. Afterwards nothing the run created exists (images, volumes, snapshots), the source volume is
 * untouched, and the storage holds no uncommitted data.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import type { BackupVolumeInput, RestoreVolumeInput, RestoreVolumeResult } from '../../workflows/shared/openstack-types';
import { TAG_RESTORE_INCOMPLETE } from '../../workflows/shared/temporaries';
import { FaultInjector } from '../helpers/faults';
import { FaultMatrix } from '../helpers/fault-matrix';
import type { FaultCase } from '../helpers/fault-matrix';
import { createVolumeWithData, deleteVolume, fileSha256, labCloud, nfsVolumePath, openLab } from '../helpers/lab';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';

const MiB = 1024 * 1024;
const faults = new FaultInjector();
let env: TestEnv;
let lab: OpenStackClients;
let source: { id: string; sha256: string };
const toDelete: string[] = [];
let matrix: FaultMatrix;

before(async () => {
  labCloud();
  env = await startTestEnv(['central', 'node'], { activityInterceptors: [faults.factory] });
  lab = await openLab();
  matrix = new FaultMatrix(env, lab, faults);
  source = await createVolumeWithData(lab, { name: 'pf-faults-src', dataBytes: 2 * MiB, metadata: { purpose: 'fault-matrix' } });
  toDelete.push(source.id);
  // The backup every restore case reads.
  await env.client.temporal.workflow.execute('backupVolume', { taskQueue: CENTRAL_TASK_QUEUE, workflowId: `faults-base-${source.id}`, args: [backupInput()] });
});

after(async () => {
  faults.disarm();
  assert.equal(await fileSha256(nfsVolumePath(source.id)), source.sha256, 'the source volume holds the same bytes after every case');
  for (const id of toDelete) await deleteVolume(lab, id).catch(() => undefined);
  await lab.close();
  await env.shutdown();
});

function backupInput(): BackupVolumeInput {
  return { node: env.node, ...labCloud(), volumeId: source.id, storage: { driver: 'local', path: env.storageDir }, compression: 'zstd', segmentSize: 8 * MiB };
}

function restoreInput(): RestoreVolumeInput {
  return { node: env.node, ...labCloud(), storage: { driver: 'local', path: env.storageDir }, name: source.id };
}

async function exercise(workflow: 'backupVolume' | 'restoreVolume', c: FaultCase, mode: 'fail' | 'cancel'): Promise<void> {
  if (workflow === 'backupVolume') await matrix.exercise(workflow, backupInput(), c, mode);
  else {
    await matrix.exercise(workflow, restoreInput(), c, mode, async (result) => {
      // A restore that completed (its undo step was the one hit) keeps exactly its finished volume.
      const restored = (result as RestoreVolumeResult).volumeId;
      toDelete.push(restored);
      assert.equal((await lab.cinder.getVolume(restored)).metadata[TAG_RESTORE_INCOMPLETE], undefined);
      return [restored];
    });
  }
  assert.equal((await lab.cinder.getVolume(source.id)).status, 'available', 'the source volume is untouched');
}

const BACKUP_STEPS: FaultCase[] = [
  { label: 'describeVolume', plan: { activity: 'describeVolume' } },
  { label: 'snapshot', plan: { activity: 'createTemporarySnapshot' } },
  { label: 'volume from snapshot', plan: { activity: 'createVolumeFromSnapshot' } },
  { label: 'upload-to-image', plan: { activity: 'uploadVolumeToImage' } },
  { label: 'stream', plan: { activity: 'streamImageToStorage', before: true } },
  { label: 'delete image', plan: { activity: 'deleteTemporaries', match: { kind: 'image' } }, undo: true },
  { label: 'delete volume', plan: { activity: 'deleteTemporaries', match: { kind: 'volume' } }, undo: true },
  { label: 'delete snapshot', plan: { activity: 'deleteTemporaries', match: { kind: 'snapshot' } }, undo: true },
];

const RESTORE_STEPS: FaultCase[] = [
  { label: 'select backup', plan: { activity: 'selectBlobBackup' } },
  { label: 'read record', plan: { activity: 'readBackupRecord' } },
  { label: 'upload to image', plan: { activity: 'uploadBackupToImage' } },
  { label: 'volume from image', plan: { activity: 'createVolumeFromImage' } },
  // The step ran (its answer was lost, say) but failed: the volume is deleted anyway, the restore did not finish.
  { label: 'finish volume', plan: { activity: 'finishRestoredVolume' } },
  { label: 'delete image', plan: { activity: 'deleteTemporaries', match: { kind: 'image' } }, undo: true },
];

describe('backupVolume fault matrix', () => {
  for (const c of BACKUP_STEPS) {
    test(`${c.label}: fails`, () => exercise('backupVolume', c, 'fail'));
    test(`${c.label}: cancelled`, () => exercise('backupVolume', c, 'cancel'));
  }
});

describe('restoreVolume fault matrix', () => {
  for (const c of RESTORE_STEPS) {
    test(`${c.label}: fails`, () => exercise('restoreVolume', c, 'fail'));
    test(`${c.label}: cancelled`, () => exercise('restoreVolume', c, 'cancel'));
  }
});
