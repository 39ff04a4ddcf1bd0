/**
 * Native Cinder backups against the lab's real Cinder (backups go to its Swift): full, then incremental with keep=1
 * rotation, restore of the incremental byte for byte, a restore of a backup that does not exist, a full backup that
 * rotates the older chain away (dependant first), and nothing of the test left behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { CINDER_RESTORE_DESCRIPTION, createNativeBackupActivities } from '../../activities/native-backup';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { waitGone } from '../../activities/openstack/wait';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import type { BackupVolumeNativeInput, BackupVolumeNativeResult, RestoreVolumeNativeInput, RestoreVolumeNativeResult } from '../../workflows/shared/openstack-types';
import { TAG_MANAGED, TAG_PARENT, TAG_RESTORE_INCOMPLETE, TAG_WORKFLOW_ID } from '../../workflows/shared/temporaries';
import { mockEnv, runActivity } from '../helpers/activity';
import { activityTypes, startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { createVolumeWithData, deleteVolume, fileSha256, inventory, labCloud, nfsVolumePath, openLab } from '../helpers/lab';

const MiB = 1024 * 1024;
let env: TestEnv;
let lab: OpenStackClients;
const run = randomBytes(3).toString('hex');
/** Every workflow id this file starts: what it leaves behind is checked by these. */
const workflowIds: string[] = [];
const volumes: string[] = [];

before(async () => {
  labCloud();
  env = await startTestEnv();
  lab = await openLab();
});

after(async () => {
  await removeEverything().catch(() => undefined);
  await lab.close();
  await env.shutdown();
});

/** Deletes the test's volumes and every backup its workflows made (dependants first). */
async function removeEverything(): Promise<void> {
  const ours = (await lab.cinder.listBackups())
    .filter((b) => workflowIds.includes(b.metadata?.[TAG_WORKFLOW_ID] ?? '') || volumes.includes(b.volume_id))
    .sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  for (const b of ours) {
    await lab.cinder.deleteBackup(b.id);
    await waitGone(`backup ${b.id}`, () => lab.cinder.findBackup(b.id), { timeoutMs: 120_000 });
  }
  const tagged = (await lab.cinder.listVolumes()).filter((v) => workflowIds.includes(v.metadata[TAG_WORKFLOW_ID] ?? '')).map((v) => v.id);
  for (const id of new Set([...volumes, ...tagged])) await deleteVolume(lab, id).catch(() => undefined);
}

function backupInput(volumeId: string, extra: Partial<BackupVolumeNativeInput> = {}): BackupVolumeNativeInput {
  return { node: env.node, ...labCloud(), volumeId, ...extra };
}

async function backUp(step: string, input: BackupVolumeNativeInput): Promise<BackupVolumeNativeResult> {
  const workflowId = `test-native-${run}-${step}`;
  workflowIds.push(workflowId);
  return env.client.temporal.workflow.execute<(i: BackupVolumeNativeInput) => Promise<BackupVolumeNativeResult>>('backupVolumeNative', { taskQueue: CENTRAL_TASK_QUEUE, workflowId, args: [input] });
}

async function restore(step: string, input: Omit<RestoreVolumeNativeInput, 'node'>): Promise<RestoreVolumeNativeResult> {
  const workflowId = `test-native-${run}-${step}`;
  workflowIds.push(workflowId);
  return env.client.temporal.workflow.execute<(i: RestoreVolumeNativeInput) => Promise<RestoreVolumeNativeResult>>('restoreVolumeNative', { taskQueue: CENTRAL_TASK_QUEUE, workflowId, args: [{ node: env.node, ...input }] });
}

/** Overwrites `bytes` random bytes at `offset` of the volume's file; returns the new content hash. */
async function scribble(volumeId: string, offset: number, bytes: number): Promise<string> {
  const fh = await open(nfsVolumePath(volumeId), 'r+');
  try {
    await fh.write(randomBytes(bytes), 0, bytes, offset);
  } finally {
    await fh.close();
  }
  return fileSha256(nfsVolumePath(volumeId));
}

/** The node's activities, run directly as if by a retried attempt of workflow `step`. */
const activities = createNativeBackupActivities({});
function asWorkflow<F extends (...args: never[]) => Promise<unknown>>(step: string, fn: F, ...args: Parameters<F>): ReturnType<F> {
  return runActivity(mockEnv({ workflowExecution: { workflowId: `test-native-${run}-${step}`, runId: 'retry' } }), fn, ...args);
}

let source: { id: string; sha256: string };
let fullBackup: BackupVolumeNativeResult;
let incremental: BackupVolumeNativeResult;
let afterChange: string;

test('a full backup, then an incremental on top of it; keep=1 deletes nothing the incremental needs', async () => {
  source = await createVolumeWithData(lab, { name: `pf-native-${run}`, dataBytes: 4 * MiB, metadata: { app: 'db' } });
  volumes.push(source.id);

  fullBackup = await backUp('full', backupInput(source.id));
  assert.equal(fullBackup.backup.incremental, false, 'nothing to build on: full');
  assert.equal(fullBackup.backup.parentId, null);
  assert.equal(fullBackup.backup.volumeId, source.id);
  assert.match(fullBackup.backup.name, new RegExp(`^permafrost-${source.id}-\\d{8}T\\d{6}\\.\\d{3}Z$`));
  assert.deepEqual(fullBackup.rotated, []);

  afterChange = await scribble(source.id, 300 * MiB, 3 * MiB);
  assert.notEqual(afterChange, source.sha256);

  incremental = await backUp('incr', backupInput(source.id, { keep: 1 }));
  assert.equal(incremental.backup.incremental, true);
  assert.equal(incremental.backup.parentId, fullBackup.backup.id);
  assert.deepEqual(incremental.rotated, [], 'the full backup is what the kept incremental needs');
  assert.equal(incremental.rotationRefused, undefined);

  const cinder = await lab.cinder.findBackup(incremental.backup.id);
  assert.ok(cinder);
  assert.equal(cinder.status, 'available');
  assert.equal(cinder.is_incremental, true);
  assert.equal(cinder.metadata?.[TAG_MANAGED], 'true');
  assert.equal(cinder.metadata?.[TAG_PARENT], fullBackup.backup.id);
  const full = await lab.cinder.findBackup(fullBackup.backup.id);
  assert.equal(full?.status, 'available');
  assert.equal(full?.has_dependent_backups, true);
  assert.equal((await lab.cinder.getVolume(source.id)).status, 'available');
  assert.deepEqual(await activityTypes(env.client, `test-native-${run}-incr`), ['createNativeBackup', 'listManagedBackups']);

  // A retried attempt finds the backup its workflow made instead of making another one.
  const place = { node: env.node, ...labCloud() };
  const again = await asWorkflow('full', activities.createNativeBackup, { ...place, volumeId: source.id, name: fullBackup.backup.name, incremental: true });
  assert.deepEqual(again, fullBackup.backup);
  // Rotation never deletes a backup something builds on.
  assert.deepEqual(await asWorkflow('incr', activities.deleteNativeBackup, { ...place, backupId: fullBackup.backup.id, volumeId: source.id }), {
    deleted: false,
    refused: 'another backup builds on it',
  });
  assert.equal((await lab.cinder.listBackups({ volume_id: source.id })).length, 2);
});

test('the incremental restores into a new volume, byte for byte, with the source metadata and no marker left', async () => {
  assert.ok(incremental, 'needs the backups of the previous test');
  const restored = await restore('restore', { ...labCloud(), backupId: incremental.backup.id });
  volumes.push(restored.volumeId);
  assert.equal(restored.into, 'new');
  const stamp = incremental.backup.createdAt.replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  assert.equal(restored.volumeName, `pf-native-${run}~${stamp}`);
  const v = await lab.cinder.getVolume(restored.volumeId);
  assert.equal(v.status, 'available');
  assert.equal(v.name, restored.volumeName);
  assert.equal(v.size, 1);
  assert.equal(v.metadata.app, 'db', 'Cinder restores the source metadata');
  assert.equal(v.metadata[TAG_RESTORE_INCOMPLETE], undefined, 'finished');
  assert.equal(await fileSha256(nfsVolumePath(restored.volumeId)), afterChange, 'the restored bytes are those of the incremental backup');
  assert.equal((await lab.cinder.findBackup(incremental.backup.id))?.status, 'available');
  // The undo spares a finished restore.
  const undo = await asWorkflow('restore', activities.discardNativeRestore, { node: env.node, ...labCloud(), name: restored.volumeName, backupId: incremental.backup.id });
  assert.deepEqual(undo, { deleted: [] });
  assert.equal((await lab.cinder.getVolume(restored.volumeId)).status, 'available');
});

test('restoring a backup that does not exist fails clearly and creates nothing', async () => {
  const started = Date.now() - 2000;
  const missing = randomUUID();
  await assert.rejects(
    restore('missing', { ...labCloud(), backupId: missing }),
    (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      const cause = err.cause?.cause;
      assert.ok(cause instanceof ApplicationFailure, String(err.cause));
      assert.equal(cause.type, 'NoBackupFoundError');
      assert.match(cause.message, new RegExp(`Cinder backup ${missing} does not exist`));
      return true;
    }
  );
  // Other tests may use the lab's project at the same time: look for what this restore could have made.
  const workflowId = `test-native-${run}-missing`;
  assert.deepEqual((await inventory(lab)).filter((r) => r.tags[TAG_WORKFLOW_ID] === workflowId), [], 'nothing tagged with the workflow');
  const restoreVolumes = (await lab.cinder.listVolumes()).filter(
    (v) => v.description === CINDER_RESTORE_DESCRIPTION && Date.parse(`${v.created_at}Z`) >= started
  );
  assert.deepEqual(restoreVolumes.map((v) => v.name), [], 'no volume was made for a restore');
  assert.deepEqual(await activityTypes(env.client, `test-native-${run}-missing`), ['prepareNativeRestore'], 'it failed at the check, without retries');
});

test('a forced full backup with keep=1 rotates the older chain away, the incremental before its full backup', async () => {
  assert.ok(incremental, 'needs the backups of the first test');
  const next = await backUp('full2', backupInput(source.id, { keep: 1, incremental: false }));
  assert.equal(next.backup.incremental, false);
  assert.deepEqual(next.rotated, [incremental.backup.id, fullBackup.backup.id]);
  assert.equal(await lab.cinder.findBackup(incremental.backup.id), undefined);
  assert.equal(await lab.cinder.findBackup(fullBackup.backup.id), undefined);
  assert.equal((await lab.cinder.findBackup(next.backup.id))?.status, 'available');
});

test('nothing of the test remains: no Cinder backup or volume tagged with its workflow ids', async () => {
  await removeEverything();
  const left = (await inventory(lab)).filter((r) => workflowIds.includes(r.tags[TAG_WORKFLOW_ID] ?? '') || workflowIds.some((w) => r.name.includes(w)) || volumes.includes(r.id));
  assert.deepEqual(left, []);
});
