/**
 * The fault matrix of backupVolume and restoreVolume on the real lab: every step once failing and once cancelled
 * while in it. Afterwards nothing the run created exists (images, volumes, snapshots), the source volume is
 * untouched, and the storage holds no uncommitted data.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import type { BackupVolumeInput, RestoreVolumeInput, RestoreVolumeResult } from '../../workflows/shared/openstack-types';
import { TAG_RESTORE_INCOMPLETE } from '../../workflows/shared/temporaries';
import { FaultInjector } from '../helpers/faults';
import type { FaultPlan } from '../helpers/faults';
import { createVolumeWithData, deleteVolume, fileSha256, labCloud, leftoversOf, nfsVolumePath, openLab } from '../helpers/lab';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';

const MiB = 1024 * 1024;
const faults = new FaultInjector();
let env: TestEnv;
let lab: OpenStackClients;
let source: { id: string; sha256: string };
const toDelete: string[] = [];
let run = 0;
/** Workflow ids unique to this run: leftovers of an earlier run (another server) never count as ours. */
const RUN_ID = randomBytes(3).toString('hex');

before(async () => {
  labCloud();
  env = await startTestEnv(['central', 'node'], { activityInterceptors: [faults.factory] });
  lab = await openLab();
  source = await createVolumeWithData(lab, { name: 'pf-faults-src', dataBytes: 2 * MiB, metadata: { purpose: 'fault-matrix' } });
  toDelete.push(source.id);
  // The backup every restore case reads.
  await env.client.temporal.workflow.execute('backupVolume', { taskQueue: CENTRAL_TASK_QUEUE, workflowId: `faults-base-${source.id}`, args: [backupInput()] });
});

after(async () => {
  faults.disarm();
  for (const id of toDelete) await deleteVolume(lab, id).catch(() => undefined);
  assert.equal(await fileSha256(nfsVolumePath(source.id)).catch(() => source.sha256), source.sha256);
  await lab.close();
  await env.shutdown();
});

function backupInput(): BackupVolumeInput {
  return { node: env.node, ...labCloud(), volumeId: source.id, storage: { driver: 'local', path: env.storageDir }, compression: 'zstd', segmentSize: 8 * MiB };
}

function restoreInput(): RestoreVolumeInput {
  return { node: env.node, ...labCloud(), storage: { driver: 'local', path: env.storageDir }, name: source.id };
}

/** Backup folders in the storage without a manifest. */
async function uncommitted(): Promise<string[]> {
  const out: string[] = [];
  for (const group of await readdir(env.storageDir)) {
    const dir = join(env.storageDir, group);
    if (!(await stat(dir)).isDirectory()) continue;
    for (const ts of await readdir(dir)) {
      if (!(await readdir(join(dir, ts))).includes('manifest.json')) out.push(`${group}/${ts}`);
    }
  }
  return out;
}

interface Case {
  label: string;
  plan: Omit<FaultPlan, 'mode'>;
  /** An undo step: its failure is transient (retried), and a cancel does not reach it. */
  undo?: boolean;
}

async function exercise(workflow: 'backupVolume' | 'restoreVolume', c: Case, mode: 'fail' | 'cancel'): Promise<void> {
  const workflowId = `faults-${workflow}-${++run}-${c.plan.activity}-${mode}-${RUN_ID}`;
  faults.arm({ ...c.plan, mode: mode === 'cancel' ? 'hold' : c.undo ? 'fail-once' : 'fail' });
  const handle = await env.client.temporal.workflow.start(workflow, {
    taskQueue: CENTRAL_TASK_QUEUE,
    workflowId,
    args: [workflow === 'backupVolume' ? backupInput() : restoreInput()],
  });
  let outcome: 'completed' | 'failed';
  let result: unknown;
  try {
    if (mode === 'cancel') {
      await faults.reached;
      await handle.cancel();
      if (c.undo) setTimeout(() => faults.release(), 300);
    }
    result = await handle.result();
    outcome = 'completed';
  } catch (err) {
    assert.ok(err instanceof WorkflowFailedError, String(err));
    outcome = 'failed';
  } finally {
    faults.disarm();
  }
  assert.equal(faults.hits, 1, `the fault was injected once in ${c.label}`);
  if (!c.undo) assert.equal(outcome, 'failed', `${workflow} must fail when ${c.label} ${mode === 'cancel' ? 'is cancelled' : 'fails'}`);
  let left = await leftoversOf(lab, workflowId);
  if (workflow === 'restoreVolume' && outcome === 'completed') {
    // A restore that completed (its undo step was the one hit) leaves exactly its finished volume.
    const restored = (result as RestoreVolumeResult).volumeId;
    toDelete.push(restored);
    const v = await lab.cinder.getVolume(restored);
    assert.equal(v.metadata[TAG_RESTORE_INCOMPLETE], undefined);
    left = left.filter((r) => r.id !== restored);
  }
  assert.deepEqual(left, [], `nothing of ${workflowId} is left`);
  const src = await lab.cinder.getVolume(source.id);
  assert.equal(src.status, 'available', 'the source volume is untouched');
  assert.deepEqual(await uncommitted(), [], 'no uncommitted data in the storage');
}

const BACKUP_STEPS: Case[] = [
  { label: 'describeVolume', plan: { activity: 'describeVolume' } },
  { label: 'snapshot', plan: { activity: 'createTemporarySnapshot' } },
  { label: 'volume from snapshot', plan: { activity: 'createVolumeFromSnapshot' } },
  { label: 'upload-to-image', plan: { activity: 'uploadVolumeToImage' } },
  { label: 'stream', plan: { activity: 'streamImageToStorage', before: true } },
  { label: 'delete image', plan: { activity: 'deleteTemporaries', match: { kind: 'image' } }, undo: true },
  { label: 'delete volume', plan: { activity: 'deleteTemporaries', match: { kind: 'volume' } }, undo: true },
  { label: 'delete snapshot', plan: { activity: 'deleteTemporaries', match: { kind: 'snapshot' } }, undo: true },
];

const RESTORE_STEPS: Case[] = [
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
