import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  configFromEnv,
  loadCloudConfig,
  OpenStackSession,
  Secret,
  selectEndpoint,
  TokenCache,
} from '../../activities/openstack/session';
import type { CatalogService, CloudConfig } from '../../activities/openstack/session';
import { decodeErrorBody, kindOfStatus, OpenStackError, toStorageError } from '../../activities/openstack/errors';
import type { RequestEvent } from '../../activities/openstack/http';
import { StorageError } from '../../activities/storage/driver';
import { FakeOpenStack } from '../helpers/fake-openstack';

const PASSWORD = 'pw-Xq7-very-secret';
const APP_SECRET = 'appcred-secret-9f8e7d';
const TEMPAUTH_KEY = 'tempauth-key-4242';

/** A fake Keystone + tempauth + two-region object store on 127.0.0.1. */
const cloud = new FakeOpenStack({
  password: PASSWORD,
  appCredential: { id: 'ac-1', secret: APP_SECRET },
  tempauth: { user: 'acct:user', key: TEMPAUTH_KEY },
  catalog: (base) => {
    const ep = (iface: string, region: string): object => ({ interface: iface, region_id: region, region, url: `${base}/${region}-${iface}/` });
    return [
      { type: 'identity', name: 'keystone', endpoints: [ep('public', 'r1')] },
      { type: 'object-store', name: 'swift', endpoints: [ep('public', 'r1'), ep('internal', 'r1'), ep('public', 'r2'), ep('internal', 'r2')] },
    ];
  },
  service: (req, res) => {
    if (req.url.pathname.includes('always401')) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end(`token ${req.token} rejected`);
      return;
    }
    if (req.url.pathname.endsWith('/boom')) {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html><h1>Service Unavailable</h1><p>try later</p></html>');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(req.url.pathname);
  },
});
before(() => cloud.start());
after(() => cloud.stop());

function passwordConfig(over: Partial<CloudConfig> = {}): CloudConfig {
  return cloud.passwordConfig({ region: 'r2', interface: 'internal', ...over });
}

function noSecrets(err: unknown, ...secrets: string[]): void {
  const seen = [String(err), (err as Error).stack ?? '', inspect(err, { depth: 10 }), JSON.stringify(err)];
  for (const s of secrets) for (const text of seen) assert.ok(!text.includes(s), `secret leaked in: ${text}`);
}

test('catalog: endpoint by type, region and interface', () => {
  const catalog: CatalogService[] = [
    {
      type: 'object-store',
      endpoints: [
        { interface: 'public', region: 'r1', url: 'https://r1.example/v1/AUTH_p/' },
        { interface: 'internal', region: 'r1', url: 'http://r1.internal/v1/AUTH_p' },
        { interface: 'publicURL', region: 'r2', url: 'https://r2.example/v1/AUTH_p' },
      ],
    },
    { type: 'image', endpoints: [{ interface: 'public', region: 'r1', url: 'https://img.example' }] },
  ];
  assert.equal(selectEndpoint(catalog, 'object-store', 'public', 'r1'), 'https://r1.example/v1/AUTH_p');
  assert.equal(selectEndpoint(catalog, 'object-store', 'internal', 'r1'), 'http://r1.internal/v1/AUTH_p');
  assert.equal(selectEndpoint(catalog, 'object-store', 'public', 'r2'), 'https://r2.example/v1/AUTH_p', 'publicURL is public');
  assert.equal(selectEndpoint(catalog, 'object-store', 'internal'), 'http://r1.internal/v1/AUTH_p', 'one region: no region needed');
  assert.equal(selectEndpoint(catalog, 'image', 'public'), 'https://img.example');
  const kind = (fn: () => unknown, re: RegExp): void =>
    assert.throws(fn, (e: unknown) => e instanceof OpenStackError && e.kind === 'Config' && e.permanent && re.test(e.message));
  kind(() => selectEndpoint(catalog, 'object-store', 'public'), /several regions \(r1, r2\)/);
  kind(() => selectEndpoint(catalog, 'object-store', 'internal', 'r2'), /no internal object-store endpoint in region "r2" \(regions: r1\)/);
  kind(() => selectEndpoint(catalog, 'object-store', 'admin', 'r1'), /no admin object-store endpoint/);
  kind(() => selectEndpoint(catalog, 'volumev3', 'public', 'r1'), /no volumev3 service \(types: object-store, image\)/);
});

test('Keystone v3 password: token, catalog selection, token reuse, request-id hook without tokens', async () => {
  const events: RequestEvent[] = [];
  const cache = new TokenCache();
  const s = new OpenStackSession(passwordConfig(), { tokenCache: cache, onRequest: (e) => events.push(e) });
  try {
    const auths = cloud.keystoneAuths;
    assert.equal(await s.endpoint('object-store'), `${cloud.base}/r2-internal`);
    const res = await s.request('object-store', { method: 'GET', path: '/c/o', query: { marker: 'm', limit: 3, prefix: undefined }, what: 'GET o' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '/r2-internal/c/o');
    assert.equal(res.requestId, 'req-r2internalco');
    assert.equal(cloud.keystoneAuths - auths, 1, 'one authentication for both calls');
    assert.deepEqual(cloud.lastAuthBody, {
      identity: { methods: ['password'], password: { user: { name: 'alice', domain: { name: 'Default' }, password: PASSWORD } } },
      scope: { project: { name: 'demo', domain: { name: 'Default' } } },
    });
    // A second session with the same credentials and cache reuses the token.
    const s2 = new OpenStackSession(passwordConfig(), { tokenCache: cache });
    await (await s2.request('object-store', { method: 'GET', path: '/x', what: 'GET x' })).discard();
    assert.equal(s2.authCount, 0);
    await s2.close();
    assert.ok(events.some((e) => e.requestId === 'req-r2internalco' && e.status === 200 && e.url === `${cloud.base}/r2-internal/c/o`));
    const logged = JSON.stringify(events);
    assert.ok(!logged.includes('tok-') && !logged.includes(PASSWORD) && !logged.includes('marker'), logged);
    // A session with other endpoint preferences picks other endpoints.
    const pub = new OpenStackSession(passwordConfig({ region: 'r1', interface: 'public' }), { tokenCache: cache });
    assert.equal(await pub.endpoint('object-store'), `${cloud.base}/r1-public`);
    await pub.close();
  } finally {
    await s.close();
  }
});

test('tokens are refreshed before expires_at, not before', async () => {
  let now = cloud.clock;
  const s = new OpenStackSession(passwordConfig(), { now: () => now, refreshMarginMs: 5 * 60_000 });
  try {
    const get = async (): Promise<void> => (await s.request('object-store', { method: 'GET', path: '/t', what: 'GET t' })).discard();
    await get();
    assert.equal(s.authCount, 1);
    now += 54 * 60_000;
    await get();
    assert.equal(s.authCount, 1, 'still 6 minutes to go: cached');
    now += 2 * 60_000;
    await get();
    assert.equal(s.authCount, 2, 'inside the 5-minute margin: refreshed');
    // A short-lived token is refreshed at half its lifetime, not immediately.
    cloud.ttl = 120;
    cloud.clock = now;
    const short = new OpenStackSession(passwordConfig(), { now: () => now });
    await (await short.request('object-store', { method: 'GET', path: '/t', what: 'GET t' })).discard();
    await (await short.request('object-store', { method: 'GET', path: '/t', what: 'GET t' })).discard();
    assert.equal(short.authCount, 1);
    now += 61_000;
    await (await short.request('object-store', { method: 'GET', path: '/t', what: 'GET t' })).discard();
    assert.equal(short.authCount, 2);
    await short.close();
  } finally {
    cloud.ttl = 3600;
    cloud.clock = Date.now();
    await s.close();
  }
});

test('token lifetime is measured on the local clock (a skewed Keystone clock does not matter)', async () => {
  cloud.clock = Date.now() - 10 * 24 * 3600_000; // Keystone's clock is 10 days behind: its expires_at is in our past
  const s = new OpenStackSession(passwordConfig());
  try {
    for (let i = 0; i < 3; i++) await (await s.request('object-store', { method: 'GET', path: '/t', what: 'GET t' })).discard();
    assert.equal(s.authCount, 1);
  } finally {
    cloud.clock = Date.now();
    await s.close();
  }
});

test('a 401 triggers exactly one re-authentication and one retry', async () => {
  const s = new OpenStackSession(passwordConfig());
  try {
    await (await s.request('object-store', { method: 'GET', path: '/a', what: 'GET a' })).discard();
    cloud.valid.clear(); // the cloud revoked every token
    let auths = cloud.keystoneAuths;
    let calls = cloud.serviceCalls;
    const res = await s.request('object-store', { method: 'PUT', path: '/a', body: Buffer.from('data'), what: 'PUT a' });
    assert.equal(res.status, 200);
    await res.discard();
    assert.equal(cloud.keystoneAuths - auths, 1);
    assert.equal(cloud.serviceCalls - calls, 2);

    auths = cloud.keystoneAuths;
    calls = cloud.serviceCalls;
    const err = await s.request('object-store', { method: 'GET', path: '/always401', what: 'GET always' }).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e
    );
    assert.ok(err instanceof OpenStackError && err.kind === 'Unauthorized' && err.permanent && err.status === 401, String(err));
    assert.equal(cloud.keystoneAuths - auths, 1, 'one re-authentication, not more');
    assert.equal(cloud.serviceCalls - calls, 2, 'the request was sent twice');
    assert.match(err.message, /rejected again after re-authenticating as user alice, project demo/);
    assert.ok(!err.message.includes('tok-'), 'the echoed token is redacted');
    noSecrets(err, PASSWORD);
  } finally {
    await s.close();
  }
});

test('concurrent requests share one authentication', async () => {
  const s = new OpenStackSession(passwordConfig());
  try {
    const auths = cloud.keystoneAuths;
    await Promise.all([1, 2, 3, 4].map(async (i) => (await s.request('object-store', { method: 'GET', path: `/${i}`, what: 'GET' })).discard()));
    assert.equal(cloud.keystoneAuths - auths, 1);
  } finally {
    await s.close();
  }
});

test('rejected credentials: permanent Unauthorized, no secret in the error even when the server echoes it', async () => {
  const wrong = 'wrong-password-31337';
  const s = new OpenStackSession(passwordConfig({ password: new Secret(wrong) }));
  const err = await s.endpoint('object-store').then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e
  );
  await s.close();
  assert.ok(err instanceof OpenStackError && err.kind === 'Unauthorized' && err.permanent, String(err));
  assert.match(err.message, /authenticate user alice, project demo at http:\/\/127\.0\.0\.1:\d+\/v3 \(test\): HTTP 401 Unauthorized: The password \[redacted\] is wrong\./);
  noSecrets(err, wrong);
  const mapped = toStorageError(err);
  assert.ok(mapped instanceof StorageError && mapped.code === 'AccessDenied' && mapped.permanent);
  noSecrets(mapped, wrong);

  const v1 = new OpenStackSession({ source: 'test', authType: 'v1password', authUrl: `${cloud.base}/auth/v1.0`, username: 'acct:user', password: new Secret('bad-key-123456'), interface: 'public' });
  const err1 = await v1.endpoint('object-store').then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e
  );
  await v1.close();
  assert.ok(err1 instanceof OpenStackError && err1.kind === 'Unauthorized', String(err1));
  noSecrets(err1, 'bad-key-123456');
});

test('application credentials and tempauth (v1password)', async () => {
  const ac = new OpenStackSession({
    source: 'test',
    authType: 'v3applicationcredential',
    authUrl: cloud.base, // unversioned: /v3 is added
    applicationCredentialId: 'ac-1',
    applicationCredentialSecret: new Secret(APP_SECRET),
    region: 'r1',
    interface: 'public',
  });
  assert.equal(await ac.endpoint('object-store'), `${cloud.base}/r1-public`);
  assert.deepEqual(cloud.lastAuthBody, { identity: { methods: ['application_credential'], application_credential: { id: 'ac-1', secret: APP_SECRET } } });
  await ac.close();

  let now = Date.now();
  const v1 = new OpenStackSession(
    { source: 'test', authType: 'v1password', authUrl: `${cloud.base}/auth/v1.0`, username: 'acct:user', password: new Secret(TEMPAUTH_KEY), interface: 'public' },
    { now: () => now }
  );
  try {
    assert.equal(await v1.endpoint('object-store'), `${cloud.base}/v1/AUTH_acct`);
    const res = await v1.request('object-store', { method: 'GET', path: '/c', what: 'GET c' });
    assert.equal(await res.text(), '/v1/AUTH_acct/c');
    await assert.rejects(v1.endpoint('image'), (e: unknown) => e instanceof OpenStackError && e.kind === 'Config');
    now += 9 * 60_000; // X-Auth-Token-Expires: 600 -> refreshed at half-life at the latest
    await (await v1.request('object-store', { method: 'GET', path: '/c', what: 'GET c' })).discard();
    assert.equal(v1.authCount, 2);
  } finally {
    await v1.close();
  }
});

test('5xx and connection failures are retryable; bodies are decoded', async () => {
  const s = new OpenStackSession(passwordConfig());
  try {
    const res = await s.request('object-store', { method: 'GET', path: '/boom', what: 'GET boom' });
    const err = await s.errorFor(res, 'GET boom');
    assert.equal(err.kind, 'Unavailable');
    assert.equal(err.permanent, false);
    assert.equal(err.message, 'GET boom: HTTP 503 Unavailable: Service Unavailable try later [request req-r2internalboom]');
  } finally {
    await s.close();
  }
  const dead = new OpenStackSession(passwordConfig({ authUrl: 'http://127.0.0.1:1/v3' }));
  const err = await dead.endpoint('object-store').then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e
  );
  await dead.close();
  assert.ok(err instanceof OpenStackError && err.kind === 'Unavailable' && !err.permanent, String(err));
  assert.match(err.message, /connection to http:\/\/127\.0\.0\.1:1 failed \(ECONNREFUSED/);
  const mapped = toStorageError(err);
  assert.ok(mapped instanceof StorageError && mapped.code === 'Unavailable' && !mapped.permanent);
});

test('an aborted request rejects with the abort, not a classified error', async () => {
  const s = new OpenStackSession(passwordConfig());
  try {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(s.request('object-store', { method: 'GET', path: '/x', signal: ac.signal, what: 'GET x' }), { name: 'AbortError' });
  } finally {
    await s.close();
  }
});

test('status kinds, error bodies and StorageError mapping', () => {
  assert.deepEqual(
    [401, 403, 404, 409, 413, 422, 429, 400, 500, 503].map((s) => kindOfStatus(s)),
    ['Unauthorized', 'Forbidden', 'NotFound', 'Conflict', 'OverLimit', 'Unprocessable', 'RateLimited', 'BadRequest', 'Unavailable', 'Unavailable']
  );
  assert.equal(kindOfStatus(413, '30'), 'RateLimited');
  assert.equal(decodeErrorBody('{"itemNotFound": {"message": "Image not found.", "code": 404}}', 'application/json'), 'Image not found.');
  assert.equal(decodeErrorBody('{"error": {"code": 409, "title": "Conflict", "message": "in use"}}'), 'in use');
  assert.equal(decodeErrorBody('<html><h1>Not Found</h1><p>The resource could not be found.</p></html>'), 'Not Found The resource could not be found.');
  assert.equal(decodeErrorBody(''), '');
  assert.equal(decodeErrorBody('x'.repeat(500)).length, 301);
  const map = (kind: OpenStackError['kind']): [string, boolean] => {
    const e = toStorageError(new OpenStackError(kind, kind)) as StorageError;
    return [e.code, e.permanent];
  };
  assert.deepEqual(map('NotFound'), ['NotFound', true]);
  assert.deepEqual(map('Unauthorized'), ['AccessDenied', true]);
  assert.deepEqual(map('Forbidden'), ['AccessDenied', true]);
  assert.deepEqual(map('Config'), ['AccessDenied', true]);
  assert.deepEqual(map('OverLimit'), ['Unavailable', true]);
  assert.deepEqual(map('Conflict'), ['Unavailable', false]);
  assert.deepEqual(map('Unavailable'), ['Unavailable', false]);
  assert.deepEqual(map('BadRequest'), ['InvalidKey', true]);
  const other = new Error('bug');
  assert.equal(toStorageError(other), other);
});

test('config from the OS_* environment', () => {
  const base = { OS_AUTH_URL: 'https://keystone.example:5000/v3/', OS_USERNAME: 'bob', OS_PASSWORD: PASSWORD, OS_PROJECT_NAME: 'p' };
  const c = configFromEnv({ ...base, OS_USER_DOMAIN_NAME: 'Users', OS_REGION_NAME: 'r9', OS_INTERFACE: 'internalURL', OS_CACERT: '/etc/ca.pem' });
  assert.equal(c.authType, 'password');
  assert.equal(c.authUrl, 'https://keystone.example:5000/v3');
  assert.equal(c.userDomainName, 'Users');
  assert.equal(c.projectDomainId, 'default', 'python-openstackclient default domain');
  assert.equal(c.region, 'r9');
  assert.equal(c.interface, 'internal');
  assert.equal(c.cacert, '/etc/ca.pem');
  assert.equal(c.password?.reveal(), PASSWORD);
  for (const text of [JSON.stringify(c), inspect(c, { depth: 5 }), String(c.password), `${String(c.password)}`]) assert.ok(!text.includes(PASSWORD), text);
  // The target's region and interface win over the environment.
  const o = configFromEnv({ ...base, OS_REGION_NAME: 'r9' }, { region: 'r1', interface: 'admin' });
  assert.equal(o.region, 'r1');
  assert.equal(o.interface, 'admin');
  const ac = configFromEnv({ OS_AUTH_URL: 'http://k/v3', OS_APPLICATION_CREDENTIAL_ID: 'id1', OS_APPLICATION_CREDENTIAL_SECRET: APP_SECRET });
  assert.equal(ac.authType, 'v3applicationcredential', 'inferred from the secret');
  const v1 = configFromEnv({ OS_AUTH_TYPE: 'v1password', OS_AUTH_URL: 'http://swift:8080/auth/v1.0', OS_USERNAME: 'a:b', OS_PASSWORD: 'k' });
  assert.equal(v1.authType, 'v1password');
  const refuse = (env: NodeJS.ProcessEnv, re: RegExp): void =>
    assert.throws(() => configFromEnv(env), (e: unknown) => e instanceof OpenStackError && e.kind === 'Config' && re.test(e.message) && !e.message.includes(PASSWORD));
  refuse({}, /OS_AUTH_URL is not set/);
  refuse({ ...base, OS_PROJECT_NAME: undefined }, /needs a project/);
  refuse({ ...base, OS_PASSWORD: '' }, /needs a password/);
  refuse({ ...base, OS_AUTH_TYPE: 'token' }, /auth type "token" is not supported/);
  refuse({ ...base, OS_AUTH_URL: 'http://k:5000/v2.0' }, /v2\.0 is not supported/);
  refuse({ ...base, OS_INTERFACE: 'private' }, /interface "private"/);
});

test('config from clouds.yaml: search order, secure.yaml, auth types, no secret in errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pf-clouds-'));
  const file = join(dir, 'clouds.yaml');
  await writeFile(
    file,
    [
      'clouds:',
      '  kp:',
      '    auth:',
      '      auth_url: http://k:5000/v3',
      '      username: alice',
      '      project_id: 0123abc',
      '      user_domain_id: default',
      '    region_name: RegionOne',
      '    interface: internal',
      '  numeric:',
      '    auth: {auth_url: "http://k/v3", username: u, password: 123456, project_name: p}',
      '  ac:',
      '    auth_type: v3applicationcredential',
      '    auth: {auth_url: "http://k/v3", application_credential_id: ac-1, application_credential_secret: ' + APP_SECRET + '}',
      '  tempauth:',
      '    auth_type: v1password',
      '    auth: {auth_url: "http://s:8080/auth/v1.0", username: "test:tester", password: ' + TEMPAUTH_KEY + '}',
      '',
    ].join('\n')
  );
  await writeFile(join(dir, 'secure.yaml'), `clouds:\n  kp:\n    auth:\n      password: ${PASSWORD}\n`);
  const env = { OS_CLIENT_CONFIG_FILE: file, OS_AUTH_URL: 'http://ignored/v3', OS_PASSWORD: 'env-ignored' };
  const kp = await loadCloudConfig({ cloud: 'kp', env, cwd: dir, home: dir });
  assert.equal(kp.password?.reveal(), PASSWORD, 'secure.yaml (in cwd) merged; OS_* ignored');
  assert.equal(kp.projectId, '0123abc');
  assert.equal(kp.userDomainId, 'default');
  assert.equal(kp.interface, 'internal');
  assert.equal(kp.region, 'RegionOne');
  assert.match(kp.source, /clouds\.yaml cloud "kp" \(.*clouds\.yaml\)/);
  assert.equal((await loadCloudConfig({ cloud: 'numeric', env, cwd: dir, home: dir })).password?.reveal(), '123456');
  assert.equal((await loadCloudConfig({ cloud: 'ac', env, cwd: dir, home: dir })).applicationCredentialSecret?.reveal(), APP_SECRET);
  const t = await loadCloudConfig({ cloud: 'tempauth', env, cwd: dir, home: dir, region: 'x', interface: 'admin' });
  assert.equal(t.authType, 'v1password');
  assert.equal(t.username, 'test:tester');
  assert.equal(t.region, 'x');
  // Without a cloud in the target, OS_CLOUD names one (unless an openrc with OS_AUTH_URL is loaded).
  assert.equal((await loadCloudConfig({ env: { OS_CLIENT_CONFIG_FILE: file, OS_CLOUD: 'ac' }, cwd: dir, home: dir })).authType, 'v3applicationcredential');
  // ./clouds.yaml is found without OS_CLIENT_CONFIG_FILE.
  assert.equal((await loadCloudConfig({ cloud: 'kp', env: {}, cwd: dir, home: '/nonexistent' })).projectId, '0123abc');

  const missing = await loadCloudConfig({ cloud: 'nope', env, cwd: dir, home: dir }).then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e
  );
  assert.ok(missing instanceof OpenStackError && missing.kind === 'Config');
  assert.match(missing.message, /cloud "nope" is not in .*clouds\.yaml \(clouds: kp, numeric, ac, tempauth\)/);
  noSecrets(missing, PASSWORD, APP_SECRET, TEMPAUTH_KEY);
  await assert.rejects(loadCloudConfig({ cloud: 'kp', env: { OS_CLIENT_CONFIG_FILE: join(dir, 'absent.yaml') }, cwd: dir }), /cannot read .*absent\.yaml \(ENOENT\)/);
  await assert.rejects(loadCloudConfig({ cloud: 'kp', env: {}, cwd: join(dir, 'sub'), home: join(dir, 'sub') }), /no clouds\.yaml on this node/);

  const broken = join(dir, 'broken.yaml');
  await writeFile(broken, `clouds:\n  b:\n    auth:\n      password: "${PASSWORD}\n    x: [\n`);
  const yamlErr = await loadCloudConfig({ cloud: 'b', env: { OS_CLIENT_CONFIG_FILE: broken }, cwd: dir }).then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e
  );
  assert.match(String(yamlErr), /broken\.yaml is not valid YAML/);
  noSecrets(yamlErr, PASSWORD);
});
