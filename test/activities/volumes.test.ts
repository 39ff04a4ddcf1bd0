/**
 * The volume activities against an in-memory cloud (no OpenStack): a fake of the Cinder and Glance clients whose
 * volumes, snapshots and images move through their states one poll at a time and refuse what the real services
 * refuse (Cinder deletes only `available`/`error` resources, with a 400). Idempotent creates, safe undo, checks
 * before anything is created, heartbeats while waiting, typed failures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { MockActivityEnvironment } from '@temporalio/testing';
import { mockEnv, runActivity } from '../helpers/activity';
import { withFailureMapping } from '../../activities/failures';
import { createVolumeActivities } from '../../activities/volumes';
import type { CinderClient, CinderSnapshot, CinderVolume } from '../../activities/openstack/cinder';
import type { GlanceClient, GlanceImage } from '../../activities/openstack/glance';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { OpenStackError } from '../../activities/openstack/errors';
import { openStorage } from '../../activities/storage/registry';
import type { CloudRef } from '../../workflows/shared/openstack-types';
import { IMAGE_TAG, TAG_CREATED_AT, TAG_RESTORE_INCOMPLETE, TAG_WORKFLOW_ID, temporaryName } from '../../workflows/shared/temporaries';

const WF = 'wf-volume-1';
const OTHER_WF = 'wf-volume-2';
/** The next read of a resource finds it deleted. */
const GONE = '<gone>';

interface Entry<T> {
  value: T;
  /** Statuses the next reads (polls) see, one per read; GONE removes it. */
  pending: string[];
  /** Fields it gets once the last pending status is reached (an image's size when it turns active). */
  final?: Partial<T>;
}

const CINDER_DELETABLE_VOLUME = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'];
const CINDER_DELETABLE_SNAPSHOT = ['available', 'error'];

type FakeCinder = Pick<
  CinderClient,
  'findVolume' | 'getVolume' | 'listVolumes' | 'createVolume' | 'deleteVolume' | 'uploadToImage' | 'setVolumeMetadata' | 'findSnapshot' | 'listSnapshots' | 'createSnapshot' | 'deleteSnapshot'
>;
type FakeGlance = Pick<GlanceClient, 'get' | 'find' | 'list' | 'create' | 'setProperties' | 'delete'>;

function badRequest(what: string, why: string): OpenStackError {
  return new OpenStackError('BadRequest', `${what}: HTTP 400 BadRequest: ${why}`, 400);
}

/** An in-memory Cinder + Glance. Name filters are lenient (prefix), so the activities' own exact-name checks count. */
class FakeCloud {
  readonly volumes = new Map<string, Entry<CinderVolume>>();
  readonly snapshots = new Map<string, Entry<CinderSnapshot>>();
  readonly images = new Map<string, Entry<GlanceImage>>();
  /** Mutating calls, in order. */
  readonly log: string[] = [];
  reads = 0;
  connects = 0;
  closes = 0;
  /** The next create succeeds in the cloud, but its answer is lost (connection reset). */
  loseNextCreateAnswer = false;
  private seq = 0;

  readonly connect = async (_ref: CloudRef): Promise<OpenStackClients> => {
    this.connects++;
    return {
      session: { description: 'user fake, project demo at http://keystone.invalid/v3 (test)' },
      cinder: this.cinder,
      glance: this.glance,
      close: async () => {
        this.closes++;
      },
    } as unknown as OpenStackClients;
  };

  addVolume(over: Partial<CinderVolume> = {}, pending: string[] = []): CinderVolume {
    const v: CinderVolume = {
      id: this.id('vol'),
      name: 'data',
      status: 'available',
      size: 1,
      volume_type: 'lvm',
      availability_zone: 'nova',
      bootable: 'false',
      description: null,
      metadata: {},
      attachments: [],
      created_at: new Date().toISOString(),
      ...over,
    };
    this.volumes.set(v.id, { value: v, pending });
    return v;
  }

  addSnapshot(over: Partial<CinderSnapshot> = {}, pending: string[] = []): CinderSnapshot {
    const s: CinderSnapshot = { id: this.id('snap'), name: 'snap', status: 'available', volume_id: 'vol-x', size: 1, metadata: {}, created_at: new Date().toISOString(), ...over };
    this.snapshots.set(s.id, { value: s, pending });
    return s;
  }

  addImage(over: Partial<GlanceImage> = {}, pending: string[] = [], final?: Partial<GlanceImage>): GlanceImage {
    const i: GlanceImage = {
      id: this.id('img'),
      name: 'img',
      status: 'active',
      size: 1024,
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'private',
      protected: false,
      tags: [],
      min_disk: 0,
      min_ram: 0,
      owner: 'demo',
      created_at: new Date().toISOString(),
      ...over,
    };
    this.images.set(i.id, { value: i, pending, ...(final ? { final } : {}) });
    return i;
  }

  private id(prefix: string): string {
    return `${prefix}-${String(++this.seq).padStart(4, '0')}`;
  }

  /** One read (a poll): the resource moves on to its next planned status. */
  private read<T extends { status: string }>(map: Map<string, Entry<T>>, id: string): T | undefined {
    this.reads++;
    const e = map.get(id);
    if (!e) return undefined;
    const next = e.pending.shift();
    if (next === GONE) {
      map.delete(id);
      return undefined;
    }
    if (next !== undefined) e.value.status = next;
    if (e.pending.length === 0 && e.final) Object.assign(e.value, e.final);
    return structuredClone(e.value);
  }

  private list<T extends { name: string | null }>(map: Map<string, Entry<T>>, name: string | undefined): T[] {
    return [...map.values()].map((e) => structuredClone(e.value)).filter((x) => name === undefined || (x.name ?? '').startsWith(name));
  }

  private created<T>(value: T, what: string): T {
    this.log.push(what);
    if (this.loseNextCreateAnswer) {
      this.loseNextCreateAnswer = false;
      throw new OpenStackError('Unavailable', `${what}: connection to http://cinder.invalid failed (ECONNRESET: socket hang up)`);
    }
    return structuredClone(value);
  }

  readonly cinder: FakeCinder = {
    findVolume: async (id) => this.read(this.volumes, id),
    getVolume: async (id) => {
      const v = this.read(this.volumes, id);
      if (!v) throw new OpenStackError('NotFound', `get volume ${id}: HTTP 404 NotFound`, 404);
      return v;
    },
    listVolumes: async (filter = {}) => this.list(this.volumes, filter.name),
    createVolume: async (body) => {
      const v = this.addVolume(
        { name: String(body.name), size: Number(body.size), status: 'creating', metadata: { ...(body.metadata as Record<string, string> | undefined) } },
        ['creating', 'downloading', 'available']
      );
      return this.created(v, `create volume ${v.id} ${v.name ?? ''}`);
    },
    deleteVolume: async (id) => {
      const e = this.volumes.get(id);
      if (!e) return false;
      this.log.push(`delete volume ${id} (${e.value.status})`);
      if (!CINDER_DELETABLE_VOLUME.includes(e.value.status) || e.value.attachments.length > 0) {
        throw badRequest(`delete volume ${id}`, `Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.`);
      }
      if ([...this.snapshots.values()].some((s) => s.value.volume_id === id)) throw badRequest(`delete volume ${id}`, 'Invalid volume: it has snapshots');
      e.value.status = 'deleting';
      e.pending = ['deleting', GONE];
      return true;
    },
    uploadToImage: async (id, opts) => {
      const e = this.volumes.get(id);
      if (!e) throw new OpenStackError('NotFound', `upload volume ${id} to an image: HTTP 404 NotFound`, 404);
      if (e.value.status !== 'available') throw badRequest(`upload volume ${id} to an image`, `Invalid volume: Volume ${id} status must be available`);
      e.value.status = 'uploading';
      e.pending = ['uploading', 'available'];
      // Cinder's image has the name at once, but none of our properties.
      const image = this.addImage({ name: opts.imageName, status: 'queued', size: null }, ['saving', 'active'], { size: e.value.size * 1024 });
      return this.created({ imageId: image.id }, `upload volume ${id} to image ${image.id} ${opts.imageName}`);
    },
    setVolumeMetadata: async (id, metadata) => {
      const e = this.volumes.get(id);
      if (!e) throw new OpenStackError('NotFound', `set metadata of volume ${id}: HTTP 404 NotFound`, 404);
      Object.assign(e.value.metadata, metadata);
    },
    findSnapshot: async (id) => this.read(this.snapshots, id),
    listSnapshots: async (filter = {}) => this.list(this.snapshots, filter.name),
    createSnapshot: async (body) => {
      const v = this.volumes.get(body.volume_id);
      if (!v) throw new OpenStackError('NotFound', `snapshot volume ${body.volume_id}: HTTP 404 NotFound`, 404);
      if (v.value.status === 'in-use' && !body.force) throw badRequest(`snapshot volume ${body.volume_id}`, 'Invalid volume: must be available');
      const s = this.addSnapshot({ name: body.name, volume_id: body.volume_id, size: v.value.size, status: 'creating', metadata: { ...body.metadata } }, ['creating', 'creating', 'available']);
      return this.created(s, `create snapshot ${s.id} ${body.name}`);
    },
    deleteSnapshot: async (id) => {
      const e = this.snapshots.get(id);
      if (!e) return false;
      this.log.push(`delete snapshot ${id} (${e.value.status})`);
      if (!CINDER_DELETABLE_SNAPSHOT.includes(e.value.status)) {
        throw badRequest(`delete snapshot ${id}`, 'Invalid snapshot: Snapshot status must be available or error and must not be part of a group.');
      }
      e.value.status = 'deleting';
      e.pending = ['deleting', GONE];
      return true;
    },
  };

  readonly glance: FakeGlance = {
    get: async (id) => {
      const i = this.read(this.images, id);
      if (!i) throw new OpenStackError('NotFound', `get image ${id}: HTTP 404 NotFound`, 404);
      return i;
    },
    find: async (id) => this.read(this.images, id),
    list: async (filter) => this.list(this.images, filter.name),
    create: async (body) => {
      const i = this.addImage({ ...body, name: String(body.name), status: 'queued', size: null });
      return this.created(i, `create image ${i.id} ${i.name ?? ''}`);
    },
    setProperties: async (id, set) => {
      const e = this.images.get(id);
      if (!e) throw new OpenStackError('NotFound', `update image ${id}: HTTP 404 NotFound`, 404);
      this.log.push(`tag image ${id}`);
      Object.assign(e.value, set);
      return structuredClone(e.value);
    },
    delete: async (id) => {
      const e = this.images.get(id);
      if (!e) return false;
      this.log.push(`delete image ${id} (${e.value.status})`);
      if (e.value.protected) throw new OpenStackError('Forbidden', `delete image ${id}: HTTP 403 Forbidden: Image ${id} is protected`, 403);
      this.images.delete(id); // Glance v2: a deleted image answers 404 at once
      return true;
    },
  };
}

function setup(): { fake: FakeCloud; acts: ReturnType<typeof createVolumeActivities>; env: MockActivityEnvironment; heartbeats: unknown[] } {
  const fake = new FakeCloud();
  const acts = withFailureMapping(createVolumeActivities({ openStorage, connectCloud: fake.connect }));
  const env = mockEnv({ workflowExecution: { workflowId: WF, runId: 'run-1' } });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  return { fake, acts, env, heartbeats };
}

const place = { node: 'n1', cloud: 'fake' };

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e
  );
  assert.ok(err instanceof ApplicationFailure, `not an ApplicationFailure: ${String(err)}`);
  return err;
}

test('describeVolume: the record of a usable volume; a volume in error or missing is refused before anything is created', async () => {
  const { fake, acts, env } = setup();
  const ok = fake.addVolume({ name: 'db', size: 3, bootable: 'true', metadata: { role: 'db', [TAG_WORKFLOW_ID]: 'x' }, attachments: [{ server_id: 's1' }], status: 'in-use' });
  const record = await runActivity(env, acts.describeVolume, { ...place, volumeId: ok.id });
  assert.equal(record.id, ok.id);
  assert.equal(record.size, 3);
  assert.equal(record.bootable, true);
  assert.equal(record.attached, true);
  assert.deepEqual(record.metadata, { role: 'db' }, 'permafrost tags are not recorded');

  const broken = fake.addVolume({ status: 'error' });
  const f = await failure(runActivity(env, acts.describeVolume, { ...place, volumeId: broken.id }));
  assert.equal(f.type, 'ResourceStateError');
  assert.equal(f.nonRetryable, true);
  assert.match(f.message, new RegExp(`volume ${broken.id} is error`));
  const missing = await failure(runActivity(env, acts.describeVolume, { ...place, volumeId: 'nope' }));
  assert.equal(missing.type, 'InvalidInputError');
  assert.equal(missing.nonRetryable, true);
  assert.deepEqual(fake.log, [], 'nothing was created or changed');
  assert.equal(fake.closes, fake.connects, 'the clients are closed after every activity, failed ones too');
});

test('createTemporarySnapshot: tagged, waited for with heartbeats; a retry after a lost answer finds the snapshot instead of making a second', async () => {
  const { fake, acts, env, heartbeats } = setup();
  const vol = fake.addVolume({ status: 'in-use', attachments: [{ server_id: 's1' }] });
  const name = temporaryName(WF, 'snapshot');
  // Another workflow's snapshot with the same name is not ours.
  const foreign = fake.addSnapshot({ name, volume_id: vol.id, metadata: { [TAG_WORKFLOW_ID]: OTHER_WF } });
  fake.loseNextCreateAnswer = true;
  const lost = await failure(runActivity(env, acts.createTemporarySnapshot, { ...place, volumeId: vol.id, name, force: true }));
  assert.equal(lost.type, 'OpenStackUnavailable');
  assert.equal(lost.nonRetryable, false, 'Temporal retries it');
  assert.equal(heartbeats.length, 0);

  const readsBefore = fake.reads;
  const { snapshotId } = await runActivity(env, acts.createTemporarySnapshot, { ...place, volumeId: vol.id, name, force: true });
  assert.notEqual(snapshotId, foreign.id);
  const ours = [...fake.snapshots.values()].filter((s) => s.value.metadata[TAG_WORKFLOW_ID] === WF);
  assert.equal(ours.length, 1, 'one snapshot, not two');
  assert.equal(ours[0]?.value.id, snapshotId);
  assert.equal(ours[0]?.value.status, 'available');
  assert.ok(ours[0]?.value.metadata[TAG_CREATED_AT]);
  assert.equal(fake.log.filter((l) => l.startsWith('create snapshot')).length, 1);
  // One heartbeat per poll (creating, creating, available), none with a secret or anything but progress.
  assert.equal(heartbeats.length, fake.reads - readsBefore);
  assert.equal(heartbeats.length, 3);
  assert.deepEqual(heartbeats.at(-1), { phase: 'waiting', status: 'available', files: 0, bytes: 0, segment: 0, storedBytes: 0 });
  // A third run (the workflow's activity retried after the worker died) is a no-op lookup.
  assert.deepEqual(await runActivity(env, acts.createTemporarySnapshot, { ...place, volumeId: vol.id, name, force: true }), { snapshotId });
  assert.equal(fake.log.filter((l) => l.startsWith('create snapshot')).length, 1);
  assert.equal(fake.closes, fake.connects);
});

test('createTemporarySnapshot: a snapshot going to error fails at once; one stuck in creating times out; both non-retryable', async () => {
  const { fake, acts, env } = setup();
  const vol = fake.addVolume();
  const name = temporaryName(WF, 'snapshot');
  const bad = fake.addSnapshot({ name, volume_id: vol.id, status: 'creating', metadata: { [TAG_WORKFLOW_ID]: WF } }, ['creating', 'error']);
  const f = await failure(runActivity(env, acts.createTemporarySnapshot, { ...place, volumeId: vol.id, name, force: false }));
  assert.equal(f.type, 'ResourceErrorStateError');
  assert.equal(f.nonRetryable, true);
  assert.match(f.message, new RegExp(`snapshot ${bad.id} of volume ${vol.id}: status error`));
  fake.snapshots.delete(bad.id);

  fake.addSnapshot({ name, volume_id: vol.id, status: 'creating', metadata: { [TAG_WORKFLOW_ID]: WF } });
  const t0 = Date.now();
  const slow = await failure(runActivity(env, acts.createTemporarySnapshot, { ...place, volumeId: vol.id, name, force: false, timeouts: { snapshot: 300 } }));
  assert.equal(slow.type, 'ResourceWaitTimeoutError');
  assert.equal(slow.nonRetryable, true);
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(fake.log.length, 0, 'the existing snapshots were used, none created');
});

test('a cancelled activity stops waiting at once and still closes its clients', async () => {
  const { fake, acts, env } = setup();
  const vol = fake.addVolume();
  const name = temporaryName(WF, 'snapshot');
  fake.addSnapshot({ name, volume_id: vol.id, status: 'creating', metadata: { [TAG_WORKFLOW_ID]: WF } });
  const t0 = Date.now();
  setTimeout(() => env.cancel(), 100);
  const err = await runActivity(env, acts.createTemporarySnapshot, { ...place, volumeId: vol.id, name, force: false }).then(
    () => assert.fail('expected a cancellation'),
    (e: unknown) => e
  );
  assert.ok(err instanceof CancelledFailure, String(err));
  assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);
  assert.equal(fake.closes, fake.connects);
});

test('deleteTemporaries (snapshots): only exact-name ones of this workflow or untagged; waits out creating; 404 is done; idempotent', async () => {
  const { fake, acts, env, heartbeats } = setup();
  const name = temporaryName(WF, 'snapshot');
  const creating = fake.addSnapshot({ name, status: 'creating', metadata: { [TAG_WORKFLOW_ID]: WF } }, ['creating', 'available']);
  const untagged = fake.addSnapshot({ name });
  const foreign = fake.addSnapshot({ name, metadata: { [TAG_WORKFLOW_ID]: OTHER_WF } });
  const longer = fake.addSnapshot({ name: `${name}-2`, metadata: { [TAG_WORKFLOW_ID]: WF } });
  const vanishing = fake.addSnapshot({ name, metadata: { [TAG_WORKFLOW_ID]: WF } }, [GONE]); // someone else deleted it
  const errored = fake.addSnapshot({ name, status: 'error', metadata: { [TAG_WORKFLOW_ID]: WF } });

  const readsBefore = fake.reads;
  const { deleted } = await runActivity(env, acts.deleteTemporaries, { ...place, kind: 'snapshot', name });
  assert.deepEqual(deleted, [creating.id, untagged.id, errored.id]);
  assert.deepEqual([...fake.snapshots.keys()].sort(), [foreign.id, longer.id].sort(), 'another workflow’s and a longer name stay');
  assert.ok(!fake.snapshots.has(vanishing.id));
  assert.deepEqual(
    fake.log,
    [`delete snapshot ${creating.id} (available)`, `delete snapshot ${untagged.id} (available)`, `delete snapshot ${errored.id} (error)`],
    'never a delete while creating, none for the vanished one'
  );
  assert.equal(heartbeats.length, fake.reads - readsBefore, 'a heartbeat on every poll');
  assert.ok(heartbeats.length >= 8, `${heartbeats.length} heartbeats`);

  fake.log.length = 0;
  assert.deepEqual(await runActivity(env, acts.deleteTemporaries, { ...place, kind: 'snapshot', name }), { deleted: [] });
  assert.deepEqual(fake.log, []);
  assert.equal(fake.closes, fake.connects);
});

test('deleteTemporaries (volume): a retry finds the delete of an earlier attempt under way and waits for it', async () => {
  const { fake, acts, env } = setup();
  const name = temporaryName(WF, 'volume');
  // The first attempt sent the delete, then timed out while the volume was still deleting.
  const v = fake.addVolume({ name, status: 'deleting', metadata: { [TAG_WORKFLOW_ID]: WF } }, ['deleting', 'deleting', GONE]);
  const { deleted } = await runActivity(env, acts.deleteTemporaries, { ...place, kind: 'volume', name });
  assert.ok(!fake.volumes.has(v.id));
  assert.deepEqual(fake.log, [], 'Cinder refuses a second delete (400): none is sent');
  assert.deepEqual(deleted, [v.id]);
  // A volume still being created is waited for, then deleted.
  const creating = fake.addVolume({ name, status: 'creating', metadata: { [TAG_WORKFLOW_ID]: WF } }, ['creating', 'available']);
  assert.deepEqual(await runActivity(env, acts.deleteTemporaries, { ...place, kind: 'volume', name }), { deleted: [creating.id] });
  assert.deepEqual(fake.log, [`delete volume ${creating.id} (available)`]);
  // A volume that ends in error_deleting fails the undo for good (an operator has to look).
  const stuck = fake.addVolume({ name, metadata: { [TAG_WORKFLOW_ID]: WF } });
  const e = fake.volumes.get(stuck.id);
  assert.ok(e);
  const origDelete = fake.cinder.deleteVolume;
  fake.cinder.deleteVolume = async (id, signal) => {
    const r = await origDelete(id, signal);
    e.pending = ['error_deleting'];
    return r;
  };
  const f = await failure(runActivity(env, acts.deleteTemporaries, { ...place, kind: 'volume', name }));
  assert.equal(f.type, 'ResourceErrorStateError');
  assert.equal(f.nonRetryable, true);
  assert.equal(fake.closes, fake.connects);
});

test('deleteTemporaries (restored volumes, images): onlyIncomplete spares finished restores; untagged images of a lost upload answer are found', async () => {
  const { fake, acts, env } = setup();
  const name = 'db~20261126T101500Z';
  const incomplete = fake.addVolume({ name, metadata: { [TAG_WORKFLOW_ID]: WF, [TAG_RESTORE_INCOMPLETE]: 'true' } });
  const finished = fake.addVolume({ name, metadata: { [TAG_WORKFLOW_ID]: WF } });
  const foreignIncomplete = fake.addVolume({ name, metadata: { [TAG_WORKFLOW_ID]: OTHER_WF, [TAG_RESTORE_INCOMPLETE]: 'true' } });
  assert.deepEqual(await runActivity(env, acts.deleteTemporaries, { ...place, kind: 'volume', name, onlyIncomplete: true }), { deleted: [incomplete.id] });
  assert.deepEqual([...fake.volumes.keys()].sort(), [finished.id, foreignIncomplete.id].sort());
  // Under a user-visible name, an untagged volume is never ours: the undo of a failed restore leaves it alone.
  const usersOwn = fake.addVolume({ name });
  assert.deepEqual(await runActivity(env, acts.deleteTemporaries, { ...place, kind: 'volume', name }), { deleted: [finished.id] });
  assert.deepEqual([...fake.volumes.keys()].sort(), [foreignIncomplete.id, usersOwn.id].sort());

  const imageName = temporaryName(WF, 'image');
  const untagged = fake.addImage({ name: imageName, status: 'saving' });
  const ours = fake.addImage({ name: imageName, tags: [IMAGE_TAG], [TAG_WORKFLOW_ID]: WF });
  const theirs = fake.addImage({ name: imageName, tags: [IMAGE_TAG], [TAG_WORKFLOW_ID]: OTHER_WF });
  assert.deepEqual(await runActivity(env, acts.deleteTemporaries, { ...place, kind: 'image', name: imageName }), { deleted: [untagged.id, ours.id] });
  assert.deepEqual([...fake.images.keys()], [theirs.id]);
});

test('backup chain: snapshot -> volume -> image, every create retried after a lost answer, makes one of each', async () => {
  const { fake, acts, env, heartbeats } = setup();
  const src = fake.addVolume({ name: 'src', size: 2 });
  const snapName = temporaryName(WF, 'snapshot');
  const volName = temporaryName(WF, 'volume');
  const imgName = temporaryName(WF, 'image');
  const retry = async <T>(run: () => Promise<T>): Promise<T> => {
    fake.loseNextCreateAnswer = true;
    const f = await failure(run());
    assert.equal(f.nonRetryable, false);
    return run();
  };
  const { snapshotId } = await retry(() => runActivity(env, acts.createTemporarySnapshot, { ...place, volumeId: src.id, name: snapName, force: false }));
  const { volumeId } = await retry(() =>
    runActivity(env, acts.createVolumeFromSnapshot, { ...place, snapshotId, name: volName, size: 2, volumeType: 'lvm', availabilityZone: null })
  );
  assert.equal(fake.volumes.get(volumeId)?.value.status, 'available');
  const { imageId, size } = await retry(() => runActivity(env, acts.uploadVolumeToImage, { ...place, volumeId, imageName: imgName }));
  const image = fake.images.get(imageId)?.value;
  assert.equal(image?.status, 'active');
  assert.equal(image?.[TAG_WORKFLOW_ID], WF, 'the image is tagged although Cinder’s upload action took no properties');
  assert.equal(size, 2048);
  assert.deepEqual(
    fake.log.filter((l) => /^(create|upload)/.test(l)).map((l) => l.split(' ').slice(0, 2).join(' ')),
    ['create snapshot', 'create volume', 'upload volume']
  );
  assert.equal(fake.snapshots.size, 1);
  assert.equal(fake.volumes.size, 2);
  assert.equal(fake.images.size, 1);
  assert.ok(heartbeats.length >= 6);
  assert.equal(fake.closes, fake.connects);
});

test('checkRestoreTarget refuses an attached, busy or too small volume before anything is created', async () => {
  const { fake, acts, env } = setup();
  const gib = 1024 ** 3;
  const ok = fake.addVolume({ name: 'target', size: 2 });
  assert.deepEqual(await runActivity(env, acts.checkRestoreTarget, { ...place, volumeId: ok.id, bytes: 2 * gib }), { name: 'target', size: 2 });
  const attached = fake.addVolume({ status: 'in-use', attachments: [{ server_id: 'vm-1', device: '/dev/vdb' }] });
  const f1 = await failure(runActivity(env, acts.checkRestoreTarget, { ...place, volumeId: attached.id, bytes: 1 }));
  assert.equal(f1.type, 'ResourceStateError');
  assert.equal(f1.nonRetryable, true);
  assert.match(f1.message, /in-use and attached; detach it first/);
  const busy = fake.addVolume({ status: 'backing-up' });
  const f2 = await failure(runActivity(env, acts.checkRestoreTarget, { ...place, volumeId: busy.id, bytes: 1 }));
  assert.equal(f2.type, 'ResourceStateError');
  const small = fake.addVolume({ size: 1 });
  const f3 = await failure(runActivity(env, acts.checkRestoreTarget, { ...place, volumeId: small.id, bytes: gib + 1 }));
  assert.equal(f3.type, 'InvalidInputError');
  assert.equal(f3.nonRetryable, true);
  assert.match(f3.message, /has 1 GiB; the backup needs 2 GiB/);
  const missing = await failure(runActivity(env, acts.checkRestoreTarget, { ...place, volumeId: 'nope', bytes: 1 }));
  assert.equal(missing.type, 'InvalidInputError');
  assert.deepEqual(fake.log, []);
  assert.equal(fake.closes, fake.connects);
});
