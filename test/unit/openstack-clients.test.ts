/**
 * The Glance and Cinder clients against a fake Keystone + Glance + Cinder: microversions, paging, idempotent
 * deletes and lookups, the status -> OpenStackError -> ApplicationFailure mapping, streamed uploads (and a 401 in
 * the middle of one), and no token in any message.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { CinderClient } from '../../activities/openstack/cinder';
import { GlanceClient } from '../../activities/openstack/glance';
import { OpenStackError } from '../../activities/openstack/errors';
import type { OpenStackErrorKind } from '../../activities/openstack/errors';
import { OpenStackSession } from '../../activities/openstack/session';
import type { CloudConfig } from '../../activities/openstack/session';
import { toFailure } from '../../activities/failures';
import { FakeOpenStack, sendJson } from '../helpers/fake-openstack';
import type { FakeServiceRequest } from '../helpers/fake-openstack';

const PASSWORD = 'pw-clients-0xdeadbeef';
const VOL = '/volume/v3/proj';
const IMG = '/image';

interface Item {
  id: string;
  name: string;
  status: string;
  created_at: string;
  [k: string]: unknown;
}

/** What the fake services saw. */
interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  microversion?: string;
  token: string;
}

const state = {
  seen: [] as Seen[],
  /** `METHOD path` -> the status the next `times` calls get. */
  failures: new Map<string, { status: number; times: number; headers?: Record<string, string> }>(),
  volumes: [] as Item[],
  snapshots: [] as Item[],
  images: [] as Item[],
  /** Largest page the services hand out (Cinder osapi_max_limit, Glance api_limit_max). */
  maxLimit: 1000,
  uploads: new Map<string, { bytes: number; sha256: string }>(),
};

function item(prefix: string, i: number, extra: Record<string, unknown> = {}): Item {
  return { id: `${prefix}-${String(i).padStart(5, '0')}`, name: `${prefix} ${i}`, status: 'available', created_at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(), ...extra };
}

function page(all: Item[], q: URLSearchParams): { items: Item[]; full: boolean } | undefined {
  let start = 0;
  const marker = q.get('marker');
  if (marker !== null) {
    const at = all.findIndex((x) => x.id === marker);
    if (at < 0) return undefined;
    start = at + 1;
  }
  const limit = Math.min(q.has('limit') ? Number(q.get('limit')) : state.maxLimit, state.maxLimit);
  const name = q.get('name');
  const items = all.filter((x) => name === null || x.name === name).slice(start, start + limit);
  return { items, full: items.length === limit };
}

function notFound(res: ServerResponse, what: string): void {
  sendJson(res, 404, { itemNotFound: { code: 404, message: `${what} could not be found.` } });
}

function service(req: FakeServiceRequest, res: ServerResponse): void {
  const path = req.url.pathname;
  const mv = req.headers['openstack-api-version'];
  state.seen.push({ method: req.method, path, query: req.url.searchParams, token: req.token, ...(typeof mv === 'string' ? { microversion: mv } : {}) });
  const failure = state.failures.get(`${req.method} ${path}`);
  if (failure && failure.times > 0) {
    failure.times--;
    // A careless service that echoes the request's token: the client must redact it.
    sendJson(res, failure.status, { error: { code: failure.status, message: `refused the request with token ${req.token}` } }, failure.headers);
    return;
  }
  const m = (re: RegExp): RegExpMatchArray | null => path.match(re);
  let match: RegExpMatchArray | null;
  // -- Cinder
  if ((match = m(/^\/volume\/v3\/proj\/(volumes|snapshots)\/detail$/))) {
    const kind = match[1] as 'volumes' | 'snapshots';
    const p = page(state[kind], req.url.searchParams);
    if (!p) return sendJson(res, 400, { badRequest: { code: 400, message: 'marker not found' } });
    const last = p.items.at(-1);
    const links = p.full && last ? [{ rel: 'next', href: `http://cinder${VOL}/${kind}/detail?limit=${p.items.length}&marker=${last.id}` }] : undefined;
    return sendJson(res, 200, { [kind]: p.items, ...(links ? { [`${kind}_links`]: links } : {}) });
  }
  if ((match = m(/^\/volume\/v3\/proj\/(volumes|snapshots)\/([^/]+)$/))) {
    const kind = match[1] as 'volumes' | 'snapshots';
    const id = decodeURIComponent(match[2] ?? '');
    const at = state[kind].findIndex((x) => x.id === id);
    if (at < 0) return notFound(res, `${kind} ${id}`);
    if (req.method === 'DELETE') {
      state[kind].splice(at, 1);
      res.writeHead(202).end();
      return;
    }
    return sendJson(res, 200, { [kind === 'volumes' ? 'volume' : 'snapshot']: state[kind][at] });
  }
  if (req.method === 'POST' && path === `${VOL}/volumes`) {
    const body = (JSON.parse(req.body.toString()) as { volume: Record<string, unknown> }).volume;
    const v = item('vol', 90000 + state.volumes.length, { ...body, status: 'creating', metadata: body.metadata ?? {}, attachments: [] });
    state.volumes.push(v);
    return sendJson(res, 202, { volume: v });
  }
  if (req.method === 'POST' && m(/^\/volume\/v3\/proj\/volumes\/[^/]+\/action$/)) {
    res.writeHead(202).end();
    return;
  }
  // -- Glance
  if (req.method === 'GET' && path === `${IMG}/v2/images`) {
    const p = page(state.images, req.url.searchParams);
    if (!p) return sendJson(res, 400, { message: 'marker not found' });
    const last = p.items.at(-1);
    // Like Glance: images the policy hides are dropped after the database paged, so a page can be short.
    const images = p.items.filter((i) => i.hidden !== true);
    return sendJson(res, 200, { images, first: '/v2/images', ...(p.full && last ? { next: `/v2/images?marker=${last.id}&limit=${p.items.length}` } : {}) });
  }
  if ((match = m(/^\/image\/v2\/images\/([^/]+)\/file$/)) && req.method === 'PUT') {
    const id = decodeURIComponent(match[1] ?? '');
    state.uploads.set(id, { bytes: req.body.length, sha256: createHash('sha256').update(req.body).digest('hex') });
    res.writeHead(204).end();
    return;
  }
  if ((match = m(/^\/image\/v2\/images\/([^/]+)$/))) {
    const id = decodeURIComponent(match[1] ?? '');
    const at = state.images.findIndex((x) => x.id === id);
    if (at < 0) {
      res.writeHead(404, { 'content-type': 'text/html' }).end(`<html><h1>404 Not Found</h1>No image found with ID ${id}</html>`);
      return;
    }
    if (req.method === 'DELETE') {
      state.images.splice(at, 1);
      res.writeHead(204).end();
      return;
    }
    return sendJson(res, 200, state.images[at]);
  }
  sendJson(res, 404, { message: `no route for ${req.method} ${path}` });
}

const cloud = new FakeOpenStack({
  password: PASSWORD,
  catalog: (base) => [
    { type: 'identity', endpoints: [{ interface: 'public', region_id: 'r1', url: `${base}/v3` }] },
    {
      type: 'image',
      endpoints: [
        { interface: 'public', region_id: 'r1', url: `${base}${IMG}` },
        { interface: 'public', region_id: 'dead', url: 'http://127.0.0.1:1' },
      ],
    },
    {
      type: 'volumev3',
      endpoints: [
        { interface: 'public', region_id: 'r1', url: `${base}${VOL}` },
        { interface: 'public', region_id: 'dead', url: 'http://127.0.0.1:1/v3/proj' },
      ],
    },
  ],
  service,
});
before(() => cloud.start());
after(() => cloud.stop());

function config(over: Partial<CloudConfig> = {}): CloudConfig {
  return cloud.passwordConfig({ region: 'r1', ...over });
}

async function withClients<T>(fn: (c: { session: OpenStackSession; cinder: CinderClient; glance: GlanceClient }) => Promise<T>, over: Partial<CloudConfig> = {}): Promise<T> {
  const session = new OpenStackSession(config(over));
  try {
    return await fn({ session, cinder: new CinderClient(session), glance: new GlanceClient(session) });
  } finally {
    await session.close();
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e
  );
}

/** No token the fake Keystone ever issued, nor the password, appears in any rendering of the error. */
function noSecrets(err: unknown): void {
  const texts = [String(err), (err as Error).message, (err as Error).stack ?? '', inspect(err, { depth: 10 }), JSON.stringify(err)];
  if (err instanceof ApplicationFailure && err.cause) texts.push(String(err.cause), inspect(err.cause, { depth: 10 }));
  for (const s of [...cloud.issued, PASSWORD]) for (const t of texts) assert.ok(!t.includes(s), `secret ${s.slice(0, 6)}… leaked in: ${t}`);
}

function reset(): void {
  state.seen.length = 0;
  state.failures.clear();
  state.maxLimit = 1000;
}

test('Cinder calls name microversion 3.60, reimage 3.68; Glance calls name none', async () => {
  reset();
  state.volumes = [item('vol', 1, { metadata: {}, attachments: [] })];
  state.snapshots = [item('snap', 1, { volume_id: 'vol-00001', metadata: {} })];
  state.images = [item('img', 1)];
  await withClients(async ({ cinder, glance }) => {
    await cinder.getVolume('vol-00001');
    await cinder.findVolume('vol-00001');
    await cinder.listVolumes({ name: 'vol 1' });
    await cinder.listSnapshots();
    await cinder.findSnapshot('snap-00001');
    const created = await cinder.createVolume({ name: 'n', size: 1 });
    await cinder.setBootable(created.id, true);
    await cinder.reimage('vol-00001', 'img-00001');
    await cinder.deleteVolume(created.id);
    await glance.get('img-00001');
    await glance.list({});
  });
  const cinderCalls = state.seen.filter((s) => s.path.startsWith(VOL));
  assert.equal(cinderCalls.length, 9);
  const reimage = cinderCalls.filter((s) => s.path === `${VOL}/volumes/vol-00001/action`);
  assert.equal(reimage.length, 1);
  assert.equal(reimage[0]?.microversion, 'volume 3.68');
  for (const s of cinderCalls) if (s !== reimage[0]) assert.equal(s.microversion, 'volume 3.60', `${s.method} ${s.path}`);
  for (const s of state.seen.filter((x) => x.path.startsWith(IMG))) assert.equal(s.microversion, undefined, `${s.method} ${s.path}`);
  // The list filters reach the service as query parameters.
  const list = cinderCalls.find((s) => s.path === `${VOL}/volumes/detail`);
  assert.equal(list?.query.get('name'), 'vol 1');
  assert.equal(list?.query.get('sort'), 'created_at:asc');
});

test('paging with marker/limit returns every item exactly once, also when the service caps the page size', async () => {
  reset();
  state.volumes = Array.from({ length: 1234 }, (_, i) => item('vol', i, { metadata: {}, attachments: [] }));
  state.snapshots = Array.from({ length: 501 }, (_, i) => item('snap', i, { volume_id: 'v', metadata: {} }));
  state.images = Array.from({ length: 1001 }, (_, i) => item('img', i));
  const ids = (xs: { id: string }[]): string[] => xs.map((x) => x.id);
  await withClients(async ({ cinder, glance }) => {
    assert.deepEqual(ids(await cinder.listVolumes()), ids(state.volumes));
    const volumeCalls = state.seen.filter((s) => s.path === `${VOL}/volumes/detail`);
    assert.deepEqual(
      volumeCalls.map((s) => [s.query.get('limit'), s.query.get('marker')]),
      [
        ['500', null],
        ['500', 'vol-00499'],
        ['500', 'vol-00999'],
      ]
    );
    assert.deepEqual(ids(await cinder.listSnapshots()), ids(state.snapshots));
    assert.deepEqual(ids(await glance.list({ visibility: 'all' })), ids(state.images));
    // Glance drops images its policy hides after paging: the first page is short, yet there is more.
    state.images[3] = { ...item('img', 3), hidden: true };
    state.images[700] = { ...item('img', 700), hidden: true };
    assert.deepEqual(ids(await glance.list({})), ids(state.images.filter((i) => i.hidden !== true)));
    state.images[3] = item('img', 3);
    state.images[700] = item('img', 700);

    // An operator lowered osapi_max_limit / api_limit_max below what the client asks for: pages are shorter than
    // the requested limit, but the service says there are more (volumes_links / next).
    state.maxLimit = 100;
    assert.deepEqual(ids(await cinder.listVolumes()), ids(state.volumes));
    assert.deepEqual(ids(await cinder.listSnapshots()), ids(state.snapshots));
    assert.deepEqual(ids(await glance.list({})), ids(state.images));
  });
  // Small listings stay one request.
  reset();
  state.volumes = [item('vol', 1)];
  await withClients(async ({ cinder }) => assert.equal((await cinder.listVolumes()).length, 1));
  assert.equal(state.seen.filter((s) => s.path === `${VOL}/volumes/detail`).length, 1);
});

test('404: deletes resolve false (idempotent), lookups resolve undefined, get rejects NotFound', async () => {
  reset();
  state.volumes = [item('vol', 1, { metadata: {}, attachments: [] })];
  state.snapshots = [item('snap', 1, { volume_id: 'vol-00001', metadata: {} })];
  state.images = [item('img', 1)];
  await withClients(async ({ cinder, glance }) => {
    assert.equal(await cinder.deleteSnapshot('snap-00001'), true);
    assert.equal(await cinder.deleteSnapshot('snap-00001'), false);
    assert.equal(await cinder.deleteVolume('vol-00001'), true);
    assert.equal(await cinder.deleteVolume('vol-00001'), false);
    assert.equal(await glance.delete('img-00001'), true);
    assert.equal(await glance.delete('img-00001'), false);
    assert.equal(await cinder.findVolume('vol-00001'), undefined);
    assert.equal(await cinder.findSnapshot('snap-00001'), undefined);
    assert.equal(await glance.find('img-00001'), undefined);
    const err = await rejection(cinder.getVolume('vol-00001'));
    assert.ok(err instanceof OpenStackError && err.kind === 'NotFound' && err.status === 404, String(err));
    assert.match(err.message, /^get volume vol-00001: HTTP 404 NotFound: volumes vol-00001 could not be found\. \[request req-volumev3projvolumesvol00001\]$/);
    const gerr = await rejection(glance.get('img-00001'));
    assert.ok(gerr instanceof OpenStackError && gerr.kind === 'NotFound', String(gerr));
    assert.match(gerr.message, /404 Not Found No image found with ID img-00001/);
    const failure = toFailure(gerr);
    assert.ok(failure instanceof ApplicationFailure && failure.type === 'OpenStackNotFound' && failure.nonRetryable);
    noSecrets(err);
    noSecrets(failure);
  });
});

test('statuses map to OpenStackError kinds and, through toFailure, to typed ApplicationFailures', async () => {
  reset();
  state.volumes = [];
  const cases: [number, OpenStackErrorKind, boolean, Record<string, string>?][] = [
    [400, 'BadRequest', true],
    [401, 'Unauthorized', true],
    [403, 'Forbidden', true],
    [404, 'NotFound', true],
    [409, 'Conflict', true],
    [413, 'OverLimit', true],
    [413, 'RateLimited', false, { 'retry-after': '30' }],
    [429, 'RateLimited', false],
    [500, 'Unavailable', false],
    [503, 'Unavailable', false],
  ];
  await withClients(async ({ session, cinder }) => {
    await cinder.listVolumes(); // authenticated
    for (const [status, kind, nonRetryable, headers] of cases) {
      state.failures.set(`POST ${VOL}/volumes`, { status, times: 2, ...(headers ? { headers } : {}) });
      const auths = cloud.keystoneAuths;
      const calls = state.seen.length;
      const err = await rejection(cinder.createVolume({ name: `s${status}`, size: 1 }));
      assert.ok(err instanceof OpenStackError, String(err));
      assert.equal(err.kind, kind, `${status}: ${err.message}`);
      assert.equal(err.status, status);
      const again = status === 401 ? ' \\(rejected again after re-authenticating as user alice, project demo at .*\\)' : '';
      assert.match(err.message, new RegExp(`^create volume s${status}${again}: HTTP ${status} ${kind}: refused the request with token \\[redacted\\] \\[request req-volumev3projvolumes\\]$`));
      if (status === 401) {
        assert.equal(cloud.keystoneAuths - auths, 1, '401: exactly one re-authentication');
        assert.equal(state.seen.length - calls, 2, '401: sent twice');
      } else {
        assert.equal(cloud.keystoneAuths - auths, 0);
        assert.equal(state.seen.length - calls, 1);
      }
      const failure = toFailure(err);
      assert.ok(failure instanceof ApplicationFailure, String(failure));
      assert.equal(failure.type, `OpenStack${kind}`);
      assert.equal(failure.nonRetryable, nonRetryable, `${status} ${kind}`);
      assert.equal(failure.message, err.message);
      noSecrets(err);
      noSecrets(failure);
    }
    assert.equal(state.volumes.length, 0, 'nothing was created');
    assert.ok(session.authCount >= 2);
  });
});

test('connection refused is a retryable OpenStackUnavailable', async () => {
  await withClients(
    async ({ cinder, glance }) => {
      for (const call of [cinder.listVolumes(), cinder.deleteVolume('v'), glance.find('i')]) {
        const err = await rejection(call);
        assert.ok(err instanceof OpenStackError && err.kind === 'Unavailable' && err.status === undefined, String(err));
        assert.match(err.message, /connection to http:\/\/127\.0\.0\.1:1 failed \(ECONNREFUSED/);
        const failure = toFailure(err);
        assert.ok(failure instanceof ApplicationFailure && failure.type === 'OpenStackUnavailable' && !failure.nonRetryable, String(failure));
        noSecrets(failure);
      }
    },
    { region: 'dead' }
  );
});

/** A stream of `size` random bytes in small chunks, read lazily; `sha256` of what it yields. */
function randomStream(size: number): { stream: Readable; sha256: string } {
  const data = randomBytes(size);
  const chunk = 64 * 1024;
  let off = 0;
  const stream = new Readable({
    read() {
      if (off >= data.length) return void this.push(null);
      this.push(data.subarray(off, off + chunk));
      off += chunk;
    },
  });
  return { stream, sha256: createHash('sha256').update(data).digest('hex') };
}

test('Glance upload streams a Readable body: the service receives every byte', async () => {
  reset();
  state.images = [item('img', 7, { status: 'queued' })];
  state.uploads.clear();
  await withClients(async ({ glance }) => {
    const { stream, sha256 } = randomStream(5 * 1024 * 1024 + 123);
    await glance.upload('img-00007', stream);
    assert.deepEqual(state.uploads.get('img-00007'), { bytes: 5 * 1024 * 1024 + 123, sha256 });
    const put = state.seen.find((s) => s.method === 'PUT');
    assert.equal(put?.path, `${IMG}/v2/images/img-00007/file`);
  });
});

test('a 401 during a streamed upload: retryable failure, the token is dropped, the next call has a fresh one', async () => {
  reset();
  state.images = [item('img', 8, { status: 'queued' })];
  state.uploads.clear();
  await withClients(async ({ session, glance }) => {
    await glance.get('img-00008');
    const before = session.authCount;
    const firstToken = state.seen.at(-1)?.token;
    cloud.valid.clear(); // Keystone revoked the token
    for (const size of [1000, 8 * 1024 * 1024]) {
      const { stream } = randomStream(size);
      const err = await rejection(glance.upload('img-00008', stream));
      assert.ok(err instanceof OpenStackError, String(err));
      assert.equal(err.kind, 'Unavailable', err.message);
      assert.equal(err.permanent, false);
      const failure = toFailure(err);
      assert.ok(failure instanceof ApplicationFailure && failure.type === 'OpenStackUnavailable' && !failure.nonRetryable, String(failure));
      noSecrets(failure);
      assert.equal(state.uploads.size, 0, 'nothing was stored');
      // The retry of the step (a new stream) authenticates again and goes through.
      const retry = randomStream(size);
      await glance.upload('img-00008', retry.stream);
      assert.equal(state.uploads.get('img-00008')?.sha256, retry.sha256);
      const put = state.seen.at(-1);
      assert.equal(put?.method, 'PUT');
      assert.ok(put?.token !== undefined && put.token !== firstToken && cloud.valid.has(put.token), 'a fresh token');
      state.uploads.clear();
      cloud.valid.clear();
    }
    assert.equal(session.authCount - before, 2, 'one new token per rejected upload');
  });
});
