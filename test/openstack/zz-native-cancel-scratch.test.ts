/** TEMPORARY scratch check (removed after the run): cancel a native backup and a native restore mid-way. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import { TAG_WORKFLOW_ID } from '../../workflows/shared/temporaries';
import { activityTypes, startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { createVolumeWithData, deleteVolume, inventory, labCloud, openLab } from '../helpers/lab';
import { waitGone } from '../../activities/openstack/wait';

let env: TestEnv;
let lab: OpenStackClients;
const run = randomBytes(3).toString('hex');
before(async () => { labCloud(); env = await startTestEnv(); lab = await openLab(); });
after(async () => { await lab.close(); await env.shutdown(); });

test('cancel during backup, then during restore', async () => {
  const src = await createVolumeWithData(lab, { name: `pf-scratch-${run}`, dataBytes: 1024 * 1024 });
  const wf1 = `scratch-native-${run}-b1`;
  const full = await env.client.temporal.workflow.execute('backupVolumeNative', { taskQueue: CENTRAL_TASK_QUEUE, workflowId: wf1, args: [{ node: env.node, ...labCloud(), volumeId: src.id }] }) as { backup: { id: string } };
  const wf2 = `scratch-native-${run}-b2`;
  const h = await env.client.temporal.workflow.start('backupVolumeNative', { taskQueue: CENTRAL_TASK_QUEUE, workflowId: wf2, args: [{ node: env.node, ...labCloud(), volumeId: src.id, incremental: false }] });
  for (let i = 0; i < 100 && !(await lab.cinder.listBackups({ volume_id: src.id })).some((b) => b.metadata?.[TAG_WORKFLOW_ID] === wf2); i++) await sleep(200);
  const b2 = (await lab.cinder.listBackups({ volume_id: src.id })).find((b) => b.metadata?.[TAG_WORKFLOW_ID] === wf2);
  console.log('backup being made', b2?.id, b2?.status);
  await h.cancel();
  const t0 = Date.now();
  await assert.rejects(h.result(), /cancel/i);
  console.log('cancel finished after', Date.now() - t0, 'ms; steps', await activityTypes(env.client, wf2));
  assert.deepEqual((await inventory(lab)).filter((r) => r.tags[TAG_WORKFLOW_ID] === wf2), []);
  console.log('volume status', (await lab.cinder.getVolume(src.id)).status);

  const wf3 = `scratch-native-${run}-r1`;
  const h3 = await env.client.temporal.workflow.start('restoreVolumeNative', { taskQueue: CENTRAL_TASK_QUEUE, workflowId: wf3, args: [{ node: env.node, ...labCloud(), backupId: full.backup.id, volumeName: `pf-scratch-restore-${run}` }] });
  for (let i = 0; i < 100 && !(await lab.cinder.listVolumes({ name: `pf-scratch-restore-${run}` })).some((v) => v.status === 'restoring-backup'); i++) await sleep(200);
  console.log('restoring', (await lab.cinder.listVolumes({ name: `pf-scratch-restore-${run}` })).map((v) => [v.id, v.status, v.metadata]));
  await h3.cancel();
  await assert.rejects(h3.result(), /cancel/i);
  console.log('steps', await activityTypes(env.client, wf3));
  assert.deepEqual((await lab.cinder.listVolumes({ name: `pf-scratch-restore-${run}` })).map((v) => v.id), []);

  await lab.cinder.deleteBackup(full.backup.id);
  await waitGone('b', () => lab.cinder.findBackup(full.backup.id), { timeoutMs: 120000 });
  await deleteVolume(lab, src.id);
});
