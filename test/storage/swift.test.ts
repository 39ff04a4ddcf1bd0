/**
 * The Swift driver against the real lab (Swift 2.30 + Keystone 22): `bash lab/lab.sh up swift keystone` and
 * `eval "$(bash lab/lab.sh env)"`. Without those variables every test FAILS (it never skips): a green run means Swift
 * was exercised. Both auth paths: Keystone v3 password from the OS_* environment, and tempauth (v1password) from a
 * clouds.yaml entry. Each test uses its own containers and removes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { StorageError } from '../../activities/storage/driver';
import { SwiftStorage } from '../../activities/storage/swift';
import type { SwiftStorageOptions } from '../../activities/storage/swift';
import { Secret, TokenCache } from '../../activities/openstack/session';
import type { OpenStackSession } from '../../activities/openstack/session';
import type { RequestEvent } from '../../activities/openstack/http';
import type { SwiftStorageTarget } from '../../workflows/shared/types';

const REQUIRED = [
  'PERMAFROST_TEST_OS_AUTH_URL',
  'PERMAFROST_TEST_OS_REGION_NAME',
  'PERMAFROST_TEST_OS_USER_DOMAIN_NAME',
  'PERMAFROST_TEST_OS_PROJECT_DOMAIN_NAME',
  'PERMAFROST_TEST_OS_USERNAME',
  'PERMAFROST_TEST_OS_PASSWORD',
  'PERMAFROST_TEST_OS_PROJECT_NAME',
  'PERMAFROST_TEST_SWIFT_AUTH_URL',
  'PERMAFROST_TEST_SWIFT_USER',
  'PERMAFROST_TEST_SWIFT_KEY',
] as const;
type LabVar = (typeof REQUIRED)[number];

/** The lab's variables; a missing one fails the calling test with the command that sets them. */
function lab(): Record<LabVar, string> {
  const missing = REQUIRED.filter((n) => !process.env[n]);
  if (missing.length > 0) {
    assert.fail(`Swift lab variables missing (${missing.join(', ')}): run \`bash lab/lab.sh up swift keystone && eval "$(bash lab/lab.sh env)"\``);
  }
  return Object.fromEntries(REQUIRED.map((n) => [n, process.env[n] ?? ''])) as Record<LabVar, string>;
}

interface Flavor {
  name: string;
  /** Target and options for a driver; `password` replaces the real password or key. */
  make(container: string, password?: string): Promise<{ target: SwiftStorageTarget; opts: SwiftStorageOptions; secret: string }>;
}

/** Keystone v3 password auth from the worker's OS_* environment (the demo user, role member). */
const keystone: Flavor = {
  name: 'keystone v3 (OS_* env)',
  async make(container, password) {
    const l = lab();
    const secret = password ?? l.PERMAFROST_TEST_OS_PASSWORD;
    const env = {
      OS_AUTH_URL: l.PERMAFROST_TEST_OS_AUTH_URL,
      OS_USERNAME: l.PERMAFROST_TEST_OS_USERNAME,
      OS_PASSWORD: secret,
      OS_PROJECT_NAME: l.PERMAFROST_TEST_OS_PROJECT_NAME,
      OS_USER_DOMAIN_NAME: l.PERMAFROST_TEST_OS_USER_DOMAIN_NAME,
      OS_PROJECT_DOMAIN_NAME: l.PERMAFROST_TEST_OS_PROJECT_DOMAIN_NAME,
      OS_REGION_NAME: l.PERMAFROST_TEST_OS_REGION_NAME,
      OS_INTERFACE: 'public',
    };
    return { target: { driver: 'swift', container }, opts: { env }, secret };
  },
};

/** Swift tempauth (v1password) from a clouds.yaml entry found through OS_CLIENT_CONFIG_FILE. */
const tempauth: Flavor = {
  name: 'tempauth v1 (clouds.yaml)',
  async make(container, password) {
    const l = lab();
    const secret = password ?? l.PERMAFROST_TEST_SWIFT_KEY;
    const dir = await mkdtemp(join(tmpdir(), 'pf-swift-clouds-'));
    const file = join(dir, 'clouds.yaml');
    const q = (s: string): string => JSON.stringify(s);
    await writeFile(
      file,
      `clouds:\n  lab-tempauth:\n    auth_type: v1password\n    auth:\n      auth_url: ${q(l.PERMAFROST_TEST_SWIFT_AUTH_URL)}\n      username: ${q(l.PERMAFROST_TEST_SWIFT_USER)}\n      password: ${q(secret)}\n`,
      { mode: 0o600 }
    );
    return { target: { driver: 'swift', container, cloud: 'lab-tempauth' }, opts: { env: { OS_CLIENT_CONFIG_FILE: file }, cwd: dir, home: dir }, secret };
  },
};

function uniqueContainer(label: string): string {
  return `pf-test-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

async function read(s: SwiftStorage, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of await s.get(key)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function keys(s: SwiftStorage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of s.list(prefix)) out.push(o.key);
  return out;
}

/** Raw listing of one container (not through the driver's key mapping). */
async function rawNames(session: OpenStackSession, container: string): Promise<string[]> {
  const res = await session.request('object-store', { method: 'GET', path: `/${encodeURIComponent(container)}`, query: { format: 'json' }, what: 'raw list' });
  if (res.status === 404) {
    await res.discard();
    return [];
  }
  await session.throwForStatus(res, 'raw list');
  return ((await res.json()) as { name: string }[]).map((o) => o.name);
}

/** Removes every object and both containers. */
async function cleanup(s: SwiftStorage): Promise<void> {
  const session = await s.connect();
  const all: string[] = [];
  for await (const o of s.list('')) all.push(o.key);
  for (const k of all) await s.remove(k);
  for (const c of [s.container, s.segmentsContainer]) {
    const res = await session.request('object-store', { method: 'DELETE', path: `/${encodeURIComponent(c)}`, what: `DELETE container ${c}` });
    await res.discard();
    assert.ok(res.status === 204 || res.status === 404, `DELETE container ${c}: ${res.status}`);
  }
}

function isCode(code: StorageError['code'], permanent: boolean) {
  return (e: unknown): boolean => e instanceof StorageError && e.code === code && e.permanent === permanent;
}

for (const flavor of [keystone, tempauth]) {
  test(`${flavor.name}: put, get, stat, list, remove; segments in <container>_segments; 404 mapping`, async () => {
    const { target, opts } = await flavor.make(uniqueContainer('rt'));
    const s = new SwiftStorage(target, opts);
    try {
      // Nothing exists yet: no container is created by reads.
      assert.deepEqual(await keys(s, ''), []);
      assert.equal(await s.stat('h_n/1/manifest.json'), undefined);
      await assert.rejects(s.get('h_n/1/manifest.json'), isCode('NotFound', true));
      await s.remove('h_n/1/manifest.json');

      await s.put('h_n/2/segments/00000001', Buffer.from('one'));
      await s.put('h_n/2/segments/00000000', Buffer.from('zero'));
      await s.put('h_n/1/manifest.json', Buffer.from('{}'));
      await s.put('h_nx/1/manifest.json', Buffer.from('{"x":1}'));
      await s.put('h_n/2/manifest.json', Buffer.from('{"v":2}'));
      const session = await s.connect();
      assert.deepEqual(await rawNames(session, s.container), ['h_n/1/manifest.json', 'h_n/2/manifest.json', 'h_nx/1/manifest.json']);
      assert.deepEqual(await rawNames(session, `${target.container}_segments`), ['h_n/2/segments/00000000', 'h_n/2/segments/00000001']);

      assert.equal((await read(s, 'h_n/2/segments/00000000')).toString(), 'zero');
      assert.equal((await read(s, 'h_n/1/manifest.json')).toString(), '{}');
      assert.deepEqual(await s.stat('h_n/2/segments/00000001'), { key: 'h_n/2/segments/00000001', size: 3 });
      assert.deepEqual(await s.stat('h_n/2/manifest.json'), { key: 'h_n/2/manifest.json', size: 7 });
      const head = await session.request('object-store', { method: 'HEAD', path: `/${s.container}/h_n/1/manifest.json`, what: 'HEAD' });
      await head.discard();
      assert.ok(!Number.isNaN(Date.parse(head.header('x-object-meta-permafrost-created-at') ?? '')), 'created-at metadata');

      assert.deepEqual(await keys(s, 'h_n/'), ['h_n/1/manifest.json', 'h_n/2/manifest.json', 'h_n/2/segments/00000000', 'h_n/2/segments/00000001']);
      assert.deepEqual(await keys(s, 'h_n'), ['h_n/1/manifest.json', 'h_n/2/manifest.json', 'h_n/2/segments/00000000', 'h_n/2/segments/00000001', 'h_nx/1/manifest.json']);
      assert.deepEqual(await keys(s, 'h_n/2/segments/'), ['h_n/2/segments/00000000', 'h_n/2/segments/00000001']);
      assert.deepEqual(await keys(s, 'zzz'), []);

      await s.put('h_n/1/manifest.json', Buffer.from('{"v":1}'));
      assert.equal((await read(s, 'h_n/1/manifest.json')).toString(), '{"v":1}', 'put replaces');

      // A larger object streams back intact (and its MD5 is checked against the ETag on the way).
      const big = randomBytes(5 * 1024 * 1024 + 17);
      await s.put('h_n/3/segments/00000000', big);
      const back = await read(s, 'h_n/3/segments/00000000');
      assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(big).digest('hex'));

      await s.remove('h_n/2/segments/00000000');
      await s.remove('h_n/2/segments/00000000');
      await assert.rejects(s.get('h_n/2/segments/00000000'), isCode('NotFound', true));
      assert.equal(await s.stat('h_n/2/segments/00000000'), undefined);
      await assert.rejects(s.put('../x', Buffer.from('x')), isCode('InvalidKey', true));

      const ac = new AbortController();
      ac.abort();
      await assert.rejects(s.put('h_n/4/manifest.json', Buffer.from('x'), { signal: ac.signal }), { name: 'AbortError' });
      await assert.rejects(s.get('h_n/1/manifest.json', { signal: ac.signal }), { name: 'AbortError' });
    } finally {
      await cleanup(s).finally(() => s.close());
    }
  });

  test(`${flavor.name}: listings of more than one page, both containers merged in key order`, async () => {
    const { target, opts } = await flavor.make(uniqueContainer('pages'));
    const events: RequestEvent[] = [];
    const s = new SwiftStorage(target, { ...opts, pageLimit: 3, onRequest: (e) => events.push(e) });
    try {
      const expected: string[] = [];
      for (let t = 1; t <= 2; t++) {
        for (let i = 0; i < 3; i++) expected.push(`h_n/${t}/segments/${String(i).padStart(8, '0')}`);
        expected.push(`h_n/${t}/manifest.json`);
      }
      expected.push('h_n/0/.probe', 'h_n/9/segments-not/x', 'a/b', 'z');
      // One at a time, as the backup pipeline writes (parallel tempauth requests queue behind the lab's single-threaded
      // Keystone, which authtoken asks first about every token, and take seconds each).
      for (const k of expected) await s.put(k, Buffer.from(k));
      expected.sort();
      events.length = 0;
      const listed: { key: string; size: number }[] = [];
      for await (const o of s.list('')) listed.push(o);
      const gets = (container: string): number => events.filter((e) => e.method === 'GET' && e.url.endsWith(`/${container}`)).length;
      // main 6 objects -> pages of 3 + 3 + an empty page; segments 6 -> the same.
      assert.deepEqual([gets(target.container), gets(`${target.container}_segments`)], [3, 3], 'paged listing requests');
      assert.deepEqual(
        listed.map((o) => o.key),
        expected
      );
      assert.ok(listed.every((o) => o.size === Buffer.byteLength(o.key)));
      assert.deepEqual(await keys(s, 'h_n/2'), expected.filter((k) => k.startsWith('h_n/2')));
      // Stopping early releases the listing.
      for await (const o of s.list('')) {
        assert.equal(o.key, expected[0]);
        break;
      }
    } finally {
      await cleanup(s).finally(() => s.close());
    }
  });

  test(`${flavor.name}: a wrong password is a permanent AccessDenied without the password`, async () => {
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const { target, opts } = await flavor.make(uniqueContainer('auth'), wrong);
    const s = new SwiftStorage(target, opts);
    try {
      const err = await s.stat('x').then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e
      );
      assert.ok(isCode('AccessDenied', true)(err), inspect(err));
      assert.match((err as Error).message, /authenticate user .* HTTP 401 Unauthorized/);
      for (const text of [String(err), (err as Error).stack ?? '', inspect(err, { depth: 10 }), JSON.stringify(err)]) {
        assert.ok(!text.includes(wrong), `password leaked: ${text}`);
      }
      await assert.rejects(s.put('x/y', Buffer.from('x')), isCode('AccessDenied', true));
    } finally {
      await s.close();
    }
  });

  test(`${flavor.name}: expired tokens are refreshed, a rejected token is replaced once`, async () => {
    let skew = 0;
    const tokenCache = new TokenCache();
    const { target, opts } = await flavor.make(uniqueContainer('tok'));
    const s = new SwiftStorage(target, { ...opts, tokenCache, now: () => Date.now() + skew });
    try {
      await s.put('h_n/1/manifest.json', Buffer.from('{}'));
      const session = await s.connect();
      assert.equal(session.authCount, 1);
      await s.stat('h_n/1/manifest.json');
      assert.equal(session.authCount, 1, 'token reused');

      skew = 25 * 3600_000; // past the lab's 24 h (Keystone) / 1 day (tempauth) token lifetime
      assert.equal((await read(s, 'h_n/1/manifest.json')).toString(), '{}');
      assert.equal(session.authCount, 2, 'expired token refreshed before use');
      await s.stat('h_n/1/manifest.json');
      assert.equal(session.authCount, 2);

      // The cloud no longer accepts the cached token (revoked, tempauth memcache flushed): 401, re-auth, retry.
      for (const key of tokenCache.keys()) {
        const state = tokenCache.get(key);
        if (state) tokenCache.set(key, { ...state, token: new Secret(`${state.token.reveal().slice(0, 10)}bogus${randomBytes(8).toString('hex')}`) });
      }
      assert.deepEqual(await keys(s, 'h_n/'), ['h_n/1/manifest.json']);
      assert.equal(session.authCount, 3, 'exactly one re-authentication');
    } finally {
      await cleanup(s).finally(() => s.close());
    }
  });
}

test('keystone v3 from the lab clouds.yaml (cloud lab-demo, region and interface from the target)', async () => {
  const l = lab();
  const file = process.env.PERMAFROST_TEST_OS_CLOUDS_YAML;
  assert.ok(file, 'PERMAFROST_TEST_OS_CLOUDS_YAML is not set: eval "$(bash lab/lab.sh env)"');
  const target: SwiftStorageTarget = { driver: 'swift', container: uniqueContainer('cloud'), cloud: 'lab-demo', region: l.PERMAFROST_TEST_OS_REGION_NAME, interface: 'internal' };
  const s = new SwiftStorage(target, { env: { OS_CLIENT_CONFIG_FILE: file }, home: '/nonexistent' });
  try {
    await s.put('h_n/1/manifest.json', Buffer.from('{}'));
    assert.deepEqual(await s.stat('h_n/1/manifest.json'), { key: 'h_n/1/manifest.json', size: 2 });
    assert.match(await (await s.connect()).endpoint('object-store'), /\/v1\/AUTH_[0-9a-f]+$/);
    const wrongRegion = new SwiftStorage({ ...target, region: 'NoSuchRegion' }, { env: { OS_CLIENT_CONFIG_FILE: file }, home: '/nonexistent' });
    await assert.rejects(wrongRegion.stat('x'), (e: unknown) => isCode('AccessDenied', true)(e) && /no internal object-store endpoint in region "NoSuchRegion"/.test((e as Error).message));
    await wrongRegion.close();
  } finally {
    await cleanup(s).finally(() => s.close());
  }
});
