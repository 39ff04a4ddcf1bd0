/**
 * The orphan sweeper on the real lab. A fake workflow (never known to Temporal) "left" a snapshot, a volume made
 * from it, an untagged upload-to-image image (its name is the evidence) and an unfinished restored image; a workflow
 * that IS running left a tagged image; and there are look-alikes that are not ours (an untagged volume with a
 * temporary's exact name, an image whose name only resembles one, a finished restore). A dry run deletes nothing;
 * the sweep deletes exactly the fake workflow's resources, in dependency order, without failures; the running
 * workflow's image goes only once that workflow is terminated. The sweeps are limited to this file's workflow id
 * prefix so that other tests' temporaries in the shared lab project are never touched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { deleteAndWait, kindOps } from '../../activities/openstack/resources';
import type { ResourceKind } from '../../activities/openstack/resources';
import { waitForStatus } from '../../activities/openstack/wait';
import { deletionOrder, orphanWorkflowId, selectCandidates, workflowIdFromName } from '../../activities/sweep';
import { parseServiceTime } from '../../activities/openstack/api';
import type { SweepView } from '../../activities/sweep';
import type { SweepInput, SweepResult, SweptResource } from '../../workflows/shared/openstack-types';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import { TAG_RESTORE_INCOMPLETE, TAG_WORKFLOW_ID, TEMP_PREFIX, temporaryName, temporaryTags } from '../../workflows/shared/temporaries';
import { labCloud, openLab } from '../helpers/lab';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';

describe('sweep: evidence and order (pure)', () => {
  test('the workflow id of a temporary name: dashes kept, only the known step suffixes stripped', () => {
    assert.equal(workflowIdFromName(`${TEMP_PREFIX}backup-volume-abc-1-image`), 'backup-volume-abc-1');
    assert.equal(workflowIdFromName(`${TEMP_PREFIX}a-volume-snapshot`), 'a-volume');
    assert.equal(workflowIdFromName(`${TEMP_PREFIX}x-image-copy`), undefined);
    assert.equal(workflowIdFromName(`${TEMP_PREFIX}-image`), undefined);
    assert.equal(workflowIdFromName('my-permafrost-tmp-x-image'), undefined);
  });

  test('evidence: a tag wins over the name; Cinder needs the tag; a finished restore is never a candidate', () => {
    const tags = { [TAG_WORKFLOW_ID]: 'wf-a' };
    assert.equal(orphanWorkflowId({ kind: 'image', name: `${TEMP_PREFIX}wf-b-image`, tags }), 'wf-a');
    assert.equal(orphanWorkflowId({ kind: 'image', name: `${TEMP_PREFIX}wf-b-image`, tags: {} }), 'wf-b');
    assert.equal(orphanWorkflowId({ kind: 'volume', name: `${TEMP_PREFIX}wf-b-volume`, tags: {} }), undefined);
    assert.equal(orphanWorkflowId({ kind: 'snapshot', name: `${TEMP_PREFIX}wf-b-snapshot`, tags }), 'wf-a');
    assert.equal(orphanWorkflowId({ kind: 'volume', name: 'data~20261126T101500Z', tags: { ...tags, [TAG_RESTORE_INCOMPLETE]: 'true' } }), 'wf-a');
    assert.equal(orphanWorkflowId({ kind: 'volume', name: 'data~20261126T101500Z', tags }), undefined);
    assert.equal(orphanWorkflowId({ kind: 'image', name: 'data', tags: { [TAG_RESTORE_INCOMPLETE]: 'true' } }), undefined);
  });

  test('grace period by the service time (Cinder times have no zone: UTC) and the workflow id prefix', () => {
    assert.equal(parseServiceTime('2026-11-26T18:54:48.000000'), Date.parse('2026-11-26T18:54:48Z'));
    assert.equal(parseServiceTime('2026-11-26T18:54:48Z'), Date.parse('2026-11-26T18:54:48Z'));
    const now = Date.parse('2026-11-26T12:00:00Z');
    const view = (id: string, createdAt: string, wf: string): SweepView => ({ kind: 'volume', id, name: temporaryName(wf, 'volume'), status: 'available', tags: { [TAG_WORKFLOW_ID]: wf }, createdAt });
    const views = [view('old', '2026-11-26T10:00:00.000000', 'p-1'), view('young', '2026-11-26T11:30:00.000000', 'p-2'), view('other', '2026-11-26T10:00:00.000000', 'q-1')];
    assert.deepEqual(selectCandidates(views, { now, graceMs: 3600_000 }).map((r) => r.id), ['old', 'other']);
    assert.deepEqual(selectCandidates(views, { now, graceMs: 0, workflowIdPrefix: 'p-' }).map((r) => r.id), ['old', 'young']);
  });

  test('deletion order: images, a volume before the snapshot it was made from, a snapshot before its volume, backups newest first', () => {
    const v = (kind: SweepView['kind'], id: string, extra: Partial<SweepView> = {}): SweepView => ({ kind, id, name: id, status: 'available', tags: {}, createdAt: '2026-11-26T10:00:00Z', ...extra });
    const views = [
      v('snapshot', 's1'),
      v('backup', 'b-old', { createdAt: '2026-11-26T09:00:00Z' }),
      v('volume', 'v-base'),
      v('snapshot', 's-of-base', { volumeId: 'v-base' }),
      v('volume', 'v1', { snapshotId: 's1' }),
      v('backup', 'b-new', { createdAt: '2026-11-26T11:00:00Z' }),
      v('image', 'i1'),
    ];
    const order = deletionOrder(views).order.map((x) => x.id);
    assert.equal(order[0], 'i1');
    assert.ok(order.indexOf('v1') < order.indexOf('s1'), order.join(' '));
    assert.ok(order.indexOf('s-of-base') < order.indexOf('v-base'), order.join(' '));
    assert.deepEqual(order.slice(-2), ['b-new', 'b-old']);
  });
});

const WAIT = { timeoutMs: 180_000 };
let env: TestEnv;
let lab: OpenStackClients;
const prefix = `sweeptest-${randomBytes(3).toString('hex')}-`;
/** Never started: Temporal does not know it. */
const deadWf = `${prefix}dead-wf`;
/** Started on a task queue nobody polls: it stays running. */
const runningWf = `${prefix}running-wf`;
const created: { kind: ResourceKind; id: string }[] = [];
const r: Record<string, string> = {};
let sweeps = 0;

async function image(name: string, props: Record<string, string>): Promise<string> {
  const i = await lab.glance.create({ name, disk_format: 'raw', container_format: 'bare', ...props });
  created.push({ kind: 'image', id: i.id });
  await lab.glance.upload(i.id, Readable.from([randomBytes(4096)]));
  await waitForStatus(`image ${i.id}`, () => lab.glance.find(i.id), ['active'], WAIT);
  return i.id;
}

async function volume(body: Record<string, unknown>): Promise<string> {
  const v = await lab.cinder.createVolume({ size: 1, ...body });
  created.push({ kind: 'volume', id: v.id });
  await waitForStatus(`volume ${v.id}`, () => lab.cinder.findVolume(v.id), ['available'], WAIT);
  return v.id;
}

async function exists(kind: ResourceKind, id: string): Promise<boolean> {
  return (await kindOps(lab, kind).byId(id)) !== undefined;
}

async function sweep(extra: Partial<SweepInput> = {}): Promise<SweepResult> {
  const input: SweepInput = { node: env.node, ...labCloud(), graceMs: 0, workflowIdPrefix: prefix, ...extra };
  return env.client.temporal.workflow.execute<(input: SweepInput) => Promise<SweepResult>>('sweepOrphans', { taskQueue: CENTRAL_TASK_QUEUE, workflowId: `${prefix}sweep-${++sweeps}`, args: [input] });
}

const ids = (list: SweptResource[]): string[] => list.map((x) => x.id).sort();

before(async () => {
  labCloud();
  env = await startTestEnv(['central', 'node']);
  lab = await openLab();
  await env.client.temporal.workflow.start('listBackups', { taskQueue: `${prefix}nobody-polls`, workflowId: runningWf, args: [{}] });
  const now = new Date().toISOString();

  // The user's volume the fake workflow snapshotted: not ours, must survive.
  r.source = await volume({ name: `${prefix}source` });
  const snap = await lab.cinder.createSnapshot({ volume_id: r.source, name: temporaryName(deadWf, 'snapshot'), metadata: temporaryTags(deadWf, now) });
  created.push({ kind: 'snapshot', id: snap.id });
  r.snapshot = snap.id;
  await waitForStatus(`snapshot ${snap.id}`, () => lab.cinder.findSnapshot(snap.id), ['available'], WAIT);
  r.volume = await volume({ name: temporaryName(deadWf, 'volume'), snapshot_id: snap.id, metadata: temporaryTags(deadWf, now) });
  // Upload-to-image's image whose worker died before tagging it: only the name says whose it is.
  r.untaggedTempImage = await image(temporaryName(deadWf, 'image'), {});
  // A restore that never finished.
  r.incompleteImage = await image(`${prefix}restored~20261126T101500Z`, { ...temporaryTags(deadWf, now), [TAG_RESTORE_INCOMPLETE]: 'true' });

  // The running workflow's temporary.
  r.runningImage = await image(temporaryName(runningWf, 'image'), temporaryTags(runningWf, now));

  // Look-alikes that are not permafrost's temporaries.
  r.untaggedVolume = await volume({ name: temporaryName(deadWf, 'volume') });
  r.similarImage = await image(`${TEMP_PREFIX}${deadWf}-image-copy`, {});
  r.finishedRestore = await image(`${prefix}finished~20261126T101500Z`, temporaryTags(deadWf, now));
});

after(async () => {
  await env.client.temporal.workflow
    .getHandle(runningWf)
    .terminate('test over')
    .catch(() => undefined);
  const order = deletionOrder(
    created.map((c) => ({ ...c, name: '', status: '', tags: {}, createdAt: '', ...(c.id === r.volume ? { snapshotId: r.snapshot } : {}), ...(c.id === r.snapshot ? { volumeId: r.source } : {}) }))
  ).order;
  for (const c of order) await deleteAndWait(kindOps(lab, c.kind), c.kind, c.id, WAIT).catch((err: unknown) => console.error(`cleanup of ${c.kind} ${c.id}: ${String(err)}`));
  for (const c of created) assert.equal(await exists(c.kind, c.id), false, `${c.kind} ${c.id} cleaned up`);
  await lab.close();
  await env.shutdown();
});

describe('sweepOrphans on the lab', () => {
  test('a dry run finds the orphans and the running workflow`s temporary, and deletes nothing', async () => {
    const result = await sweep({ dryRun: true });
    assert.equal(result.dryRun, true);
    assert.deepEqual(ids(result.found), [r.snapshot, r.volume, r.untaggedTempImage, r.incompleteImage, r.runningImage].sort());
    const byId = new Map(result.found.map((x) => [x.id, x]));
    assert.equal(byId.get(r.untaggedTempImage!)?.workflowId, deadWf, 'workflow id parsed from the name, dashes kept');
    assert.equal(byId.get(r.runningImage!)?.workflowId, runningWf);
    assert.deepEqual(result.deleted, []);
    assert.deepEqual(ids(result.skipped), [r.runningImage]);
    assert.match(result.skipped[0]?.reason ?? '', /still running/);
    for (const c of created) assert.ok(await exists(c.kind, c.id), `${c.kind} ${c.id} still exists after the dry run`);
  });

  test('the sweep deletes the dead workflow`s resources in dependency order and leaves everything else', async () => {
    const result = await sweep();
    assert.equal(result.dryRun, false);
    assert.deepEqual(ids(result.deleted), [r.snapshot, r.volume, r.untaggedTempImage, r.incompleteImage].sort());
    assert.deepEqual(
      result.skipped.map((s) => [s.id, s.reason]),
      [[r.runningImage, `workflow ${runningWf} is still running`]],
      'no failures: only the running workflow`s image is kept'
    );
    for (const id of [r.untaggedTempImage, r.incompleteImage]) assert.equal(await exists('image', id!), false, `image ${id} deleted`);
    assert.equal(await exists('volume', r.volume!), false);
    assert.equal(await exists('snapshot', r.snapshot!), false);
    for (const id of [r.runningImage, r.similarImage, r.finishedRestore]) assert.ok(await exists('image', id!), `image ${id} kept`);
    for (const id of [r.source, r.untaggedVolume]) assert.ok(await exists('volume', id!), `volume ${id} kept`);
  });

  test('a second sweep finds nothing of the dead workflow (idempotent)', async () => {
    const result = await sweep();
    assert.deepEqual(ids(result.found), [r.runningImage]);
    assert.deepEqual(result.deleted, []);
  });

  test('once its workflow is terminated, the running workflow`s temporary is an orphan too', async () => {
    await env.client.temporal.workflow.getHandle(runningWf).terminate('simulated crash: the undo never runs');
    const result = await sweep();
    assert.deepEqual(ids(result.deleted), [r.runningImage]);
    assert.deepEqual(result.skipped, []);
    assert.equal(await exists('image', r.runningImage!), false);
    for (const id of [r.similarImage, r.finishedRestore]) assert.ok(await exists('image', id!), `image ${id} kept`);
    for (const id of [r.source, r.untaggedVolume]) assert.ok(await exists('volume', id!), `volume ${id} kept`);
  });
});
