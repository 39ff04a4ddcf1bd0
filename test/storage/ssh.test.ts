/**
 * SshStorage against the lab's real OpenSSH sshd (lab/sshd.sh): `bash lab/sshd.sh up && eval "$(bash lab/sshd.sh env)"`.
 * Without the PERMAFROST_TEST_SSH_* variables every test here FAILS: this tier does not silently skip.
 * The lab's server runs on this machine, so a few checks also look at its store folder directly.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNodeActivities } from '../../activities';
import { StorageError } from '../../activities/storage/driver';
import type { StorageObject } from '../../activities/storage/driver';
import { TEMP_MARK } from '../../activities/storage/local';
import { openStorage } from '../../activities/storage/registry';
import { SshStorage } from '../../activities/storage/ssh';
import type { SshStorageOptions } from '../../activities/storage/ssh';
import type { BackupFsInput, SshStorageTarget, TransferProgress } from '../../workflows/shared/types';
import { diffTrees, generateTree, listFiles, tempDir, writeRandomFile } from '../helpers/tree';

interface Lab {
  host: string;
  port: number;
  user: string;
  key: string;
  knownHosts: string;
  root: string;
}

const VARS = ['HOST', 'PORT', 'USER', 'KEY', 'KNOWN_HOSTS', 'ROOT'] as const;

function lab(): Lab {
  const missing = VARS.filter((v) => !process.env[`PERMAFROST_TEST_SSH_${v}`]).map((v) => `PERMAFROST_TEST_SSH_${v}`);
  assert.deepEqual(missing, [], `the lab sshd is required: bash lab/sshd.sh up && eval "$(bash lab/sshd.sh env)" (missing: ${missing.join(', ')})`);
  const e = (v: (typeof VARS)[number]): string => process.env[`PERMAFROST_TEST_SSH_${v}`]!;
  return { host: e('HOST'), port: Number(e('PORT')), user: e('USER'), key: e('KEY'), knownHosts: e('KNOWN_HOSTS'), root: e('ROOT') };
}

const RUN = `t${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const drivers: SshStorage[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

function target(extra: Partial<SshStorageTarget> = {}): SshStorageTarget {
  const l = lab();
  return { driver: 'ssh', host: l.host, port: l.port, user: l.user, path: l.root, identityFile: l.key, knownHostsFile: l.knownHosts, ...extra };
}

function driver(extra: Partial<SshStorageTarget> = {}, opts?: SshStorageOptions): SshStorage {
  const d = new SshStorage(target(extra), opts);
  drivers.push(d);
  return d;
}

after(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  if (process.env.PERMAFROST_TEST_SSH_ROOT) await rm(join(process.env.PERMAFROST_TEST_SSH_ROOT, RUN), { recursive: true, force: true });
});

async function text(s: SshStorage, key: string): Promise<string> {
  return (await bytes(s, key)).toString();
}

async function bytes(s: SshStorage, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of await s.get(key)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function objects(s: SshStorage, prefix: string, includeTemporary = false): Promise<StorageObject[]> {
  const out: StorageObject[] = [];
  for await (const o of s.list(prefix, { includeTemporary })) out.push(o);
  return out;
}

async function keys(s: SshStorage, prefix: string, includeTemporary = false): Promise<string[]> {
  return (await objects(s, prefix, includeTemporary)).map((o) => o.key);
}

function storageError(code: string, permanent: boolean, message?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof StorageError, `expected a StorageError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.permanent, permanent, e.message);
    if (message) assert.match(e.message, message);
    return true;
  };
}

/** `type base64` of a fresh ed25519 public key: a host key nobody has. */
function strangerKey(): string {
  const x = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(x)]).toString('base64')}`;
}

/** The lab server's real host key line (`type base64`), from its known_hosts. */
async function labHostKey(): Promise<string> {
  const line = (await readFile(lab().knownHosts, 'utf8')).split('\n').find((l) => l.trim() !== '' && !l.startsWith('#'));
  assert.ok(line, 'lab known_hosts is empty');
  return line.split(' ').slice(1, 3).join(' ');
}

async function knownHostsFile(content: string): Promise<string> {
  const file = join(await tempDir('ssh-kh'), 'known_hosts');
  await writeFile(file, content);
  return file;
}

/** A TCP relay to the lab sshd that the test can cut or stall: a flaky network between node and server. */
async function relay(): Promise<{ port: number; cut(): void; stall(): void; close(): Promise<void> }> {
  const l = lab();
  const pairs = new Set<[Socket, Socket]>();
  let stalled = false;
  const server: Server = createServer((inbound) => {
    const outbound = tcpConnect(l.port, l.host);
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (d: Buffer) => {
        if (!stalled) to.write(d);
      });
    };
    forward(inbound, outbound);
    forward(outbound, inbound);
    const done = (): void => {
      inbound.destroy();
      outbound.destroy();
      pairs.delete(pair);
    };
    inbound.on('close', done).on('error', done);
    outbound.on('close', done).on('error', done);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const close = async (): Promise<void> => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  cleanups.push(close);
  return {
    port,
    cut: () => {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
    },
    stall: () => {
      stalled = true;
    },
    close,
  };
}

test('the lab sshd environment is present (PERMAFROST_TEST_SSH_*)', () => {
  const l = lab();
  assert.ok(l.port > 0 && l.root.startsWith('/'));
});

test('put, get, stat, list, remove: a round trip under a unique prefix', async () => {
  const s = driver();
  const p = `${RUN}/rt`;
  const big = randomBytes(3 * 1024 * 1024 + 17); // many pipelined 128 KiB requests, an odd tail
  await s.put(`${p}/h_n/2/segments/00000001`, Buffer.from('one'));
  await s.put(`${p}/h_n/2/segments/00000000`, big);
  await s.put(`${p}/h_n/1/manifest.json`, Buffer.from('{}'));
  await s.put(`${p}/h_nx/1/manifest.json`, Buffer.from('{}'));
  await s.put(`${p}/empty`, Buffer.alloc(0));
  assert.ok((await bytes(s, `${p}/h_n/2/segments/00000000`)).equals(big));
  assert.equal(await text(s, `${p}/h_n/2/segments/00000001`), 'one');
  assert.equal((await bytes(s, `${p}/empty`)).length, 0);
  assert.deepEqual(await s.stat(`${p}/h_n/2/segments/00000000`), { key: `${p}/h_n/2/segments/00000000`, size: big.length });
  assert.equal(await s.stat(`${p}/nope`), undefined);
  assert.equal(await s.stat(`${p}/h_n`), undefined, 'a folder is not an object');
  await assert.rejects(s.get(`${p}/nope`), storageError('NotFound', true));
  await assert.rejects(s.get(`${p}/h_n`), storageError('NotFound', true));
  assert.deepEqual(await keys(s, `${p}/h_n/`), [`${p}/h_n/1/manifest.json`, `${p}/h_n/2/segments/00000000`, `${p}/h_n/2/segments/00000001`]);
  assert.deepEqual(await keys(s, `${p}/h_n`), [
    `${p}/h_n/1/manifest.json`,
    `${p}/h_n/2/segments/00000000`,
    `${p}/h_n/2/segments/00000001`,
    `${p}/h_nx/1/manifest.json`,
  ]);
  assert.deepEqual(await objects(s, `${p}/h_n/2/segments/00000001`), [{ key: `${p}/h_n/2/segments/00000001`, size: 3 }]);
  assert.deepEqual(await keys(s, `${RUN}/nothing-here/`), []);
  await s.put(`${p}/h_n/1/manifest.json`, Buffer.from('{"v":2}'));
  assert.equal(await text(s, `${p}/h_n/1/manifest.json`), '{"v":2}', 'put replaces');
  await s.remove(`${p}/h_n/2/segments/00000000`);
  await s.remove(`${p}/h_n/2/segments/00000000`); // idempotent
  await s.remove(`${p}/h_n/2/segments/00000001`);
  assert.ok(!existsSync(join(lab().root, p, 'h_n', '2')), 'emptied folders are pruned');
  assert.ok(existsSync(join(lab().root, p, 'h_n', '1')));
  for (const k of await keys(s, `${p}/`)) await s.remove(k);
  assert.ok(!existsSync(join(lab().root, p)), 'pruned up to the root');
  assert.ok(existsSync(lab().root), 'the root itself stays');
  assert.equal(s.connectionsOpened, 1, 'one connection for all operations');
});

test('listing is in key order, including names that sort around the folder separator', async () => {
  const s = driver();
  const p = `${RUN}/order`;
  const names = ['a/b', 'a.x', 'a-1', 'a/a/z', 'A', 'a0', 'b', 'a/b.c', 'ab/c', 'a_', 'é'];
  for (const n of [...names].reverse()) await s.put(`${p}/${n}`, Buffer.from(n));
  const expected = names.map((n) => `${p}/${n}`).sort();
  assert.deepEqual(await keys(s, `${p}/`), expected);
  assert.deepEqual(await keys(s, `${p}/a`), expected.filter((k) => k.startsWith(`${p}/a`)));
  assert.deepEqual(await keys(s, `${p}/a/`), [`${p}/a/a/z`, `${p}/a/b`, `${p}/a/b.c`]);
});

test('writes are atomic: readers see an old or a whole object, temp names are never listed', async () => {
  const s = driver();
  const reader = driver();
  const key = `${RUN}/atomic/obj`;
  const payloads = [0, 1, 2, 3, 4, 5].map((i) => Buffer.alloc(512 * 1024 + i, i));
  const digests = new Set(payloads.map((b) => createHash('sha256').update(b).digest('hex')));
  let writing = true;
  const seen: string[] = [];
  const readLoop = (async () => {
    while (writing) {
      try {
        const got = await bytes(reader, key);
        seen.push(createHash('sha256').update(got).digest('hex'));
      } catch (err) {
        if (!(err instanceof StorageError && err.code === 'NotFound')) throw err;
      }
      for (const k of await keys(reader, `${RUN}/atomic/`)) assert.ok(!k.includes(TEMP_MARK), `listed a temp name: ${k}`);
    }
  })();
  for (let round = 0; round < 3; round++) await Promise.all(payloads.map((b) => s.put(key, b)));
  writing = false;
  await readLoop;
  assert.ok(seen.length > 0);
  for (const d of seen) assert.ok(digests.has(d), 'a reader saw a partial object');
  assert.ok(digests.has(createHash('sha256').update(await bytes(s, key)).digest('hex')));
  assert.deepEqual(await keys(s, `${RUN}/atomic/`, true), [key], 'no temp file left');
});

test('temp files of dead writers are hidden from listings but can be found and removed', async () => {
  const s = driver();
  const p = `${RUN}/dead`;
  const temp = `${p}/h_n/t/segments/00000003${TEMP_MARK}abc123`;
  await s.put(temp, Buffer.from('partial')); // stands in for a writer that died before its rename
  assert.deepEqual(await keys(s, `${p}/`), []);
  assert.deepEqual(await objects(s, `${p}/`, true), [{ key: temp, size: 7, temporary: true }]);
  await s.remove(temp);
  assert.deepEqual(await keys(s, `${p}/`, true), []);
  assert.ok(!existsSync(join(lab().root, p)), 'pruned');
});

test('servers without posix-rename or fsync: the unlink + rename fallback still replaces objects', async () => {
  const s = driver();
  const key = `${RUN}/fallback/obj`;
  await s.put(key, Buffer.from('first'));
  // Reach into ssh2 to make the server look like a plain SFTP v3 server (no OpenSSH extensions).
  const session = await (s as unknown as { session(): Promise<{ sftp: { _extensions: Record<string, string> } }> }).session();
  session.sftp._extensions = {};
  await s.put(key, Buffer.from('second'));
  assert.equal(await text(s, key), 'second');
  await s.put(`${RUN}/fallback/new`, Buffer.from('new'));
  assert.deepEqual(await keys(s, `${RUN}/fallback/`, true), [`${RUN}/fallback/new`, key]);
});

test('keys cannot leave the root', async () => {
  const s = driver({ path: `${lab().root}/${RUN}/jail` });
  await s.put('inside', Buffer.from('x'));
  for (const bad of ['../escape', '/etc/passwd', 'a/../../escape', 'a//b', './a', '', 'a\0b']) {
    await assert.rejects(s.put(bad, Buffer.from('x')), storageError('InvalidKey', true), `put ${JSON.stringify(bad)}`);
    await assert.rejects(s.get(bad), storageError('InvalidKey', true), `get ${JSON.stringify(bad)}`);
    await assert.rejects(s.stat(bad), storageError('InvalidKey', true), `stat ${JSON.stringify(bad)}`);
    await assert.rejects(s.remove(bad), storageError('InvalidKey', true), `remove ${JSON.stringify(bad)}`);
  }
  await assert.rejects(s.remove(`x${TEMP_MARK}/../../escape`), storageError('InvalidKey', true), 'a temp suffix carries no path');
  await assert.rejects(keys(s, '../'), storageError('InvalidKey', true));
  await assert.rejects(keys(s, '../jail/'), storageError('InvalidKey', true));
  assert.ok(!existsSync(join(lab().root, RUN, 'escape')));
  assert.deepEqual(await keys(s, ''), ['inside']);
  assert.throws(() => driver({ path: `${lab().root}/../etc` }), storageError('InvalidKey', true));
  assert.throws(() => driver({ path: 'relative' }), storageError('InvalidKey', true));
});

test('a known_hosts with a different key for the host refuses the connection (mismatch)', async () => {
  const l = lab();
  const name = `[${l.host}]:${l.port}`;
  const other = driver({ knownHostsFile: await knownHostsFile(`${name} ${strangerKey()}\n`) });
  await assert.rejects(other.put(`${RUN}/never`, Buffer.from('x')), storageError('AccessDenied', true, /host key of .* did not match known_hosts/));
  await assert.rejects(other.stat(`${RUN}/never`), /did not match known_hosts/, 'and again on the next call (no accept-any fallback)');
  // Only an RSA key recorded: the server (ed25519 only) cannot present a key of a recorded type.
  const rsaPub = execFileSync('ssh-keygen', ['-y', '-f', await rsaKeyFile()], { encoding: 'utf8' }).trim();
  const rsaOnly = driver({ knownHostsFile: await knownHostsFile(`${name} ${rsaPub}\n`) });
  await assert.rejects(rsaOnly.stat('x'), storageError('AccessDenied', true, /did not match known_hosts .*recorded key types: ssh-rsa/));
  // The right key, but revoked.
  const right = await labHostKey();
  const revoked = driver({ knownHostsFile: await knownHostsFile(`${name} ${right}\n@revoked * ${right}\n`) });
  await assert.rejects(revoked.stat('x'), storageError('AccessDenied', true, /@revoked/));
  assert.ok(!existsSync(join(l.root, RUN, 'never')));
});

async function rsaKeyFile(): Promise<string> {
  const file = join(await tempDir('ssh-rsa'), 'id_rsa');
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', file]);
  return file;
}

test('an unknown host is refused before any connection (fail closed)', async () => {
  const l = lab();
  const right = await labHostKey();
  // The right key, but recorded for port 22 only: [host]:port is a different name.
  const portless = driver({ knownHostsFile: await knownHostsFile(`${l.host} ${right}\nother.example ${right}\n`) });
  await assert.rejects(portless.stat('x'), storageError('AccessDenied', true, /is not in known_hosts/));
  assert.equal(portless.connectionsOpened, 0, 'no connection was attempted');
  const missing = driver({ knownHostsFile: join(await tempDir('ssh-kh'), 'absent') });
  await assert.rejects(missing.stat('x'), storageError('AccessDenied', true, /cannot be read \(ENOENT\)/));
  // A hashed known_hosts (ssh-keygen -H) works.
  const hashed = await knownHostsFile(`[${l.host}]:${l.port} ${right}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
  assert.match(await readFile(hashed, 'utf8'), /^\|1\|/);
  assert.equal(await driver({ knownHostsFile: hashed }).stat(`${RUN}/x`), undefined);
});

test('authentication: wrong key, missing key file, no agent are permanent; ssh-agent works', async () => {
  const wrongKey = driver({ identityFile: await rsaKeyFile() });
  await assert.rejects(wrongKey.stat('x'), storageError('AccessDenied', true, /authentication as .* failed/));
  const keyPath = join(await tempDir('ssh-id'), 'missing');
  const noFile = driver({ identityFile: keyPath });
  await assert.rejects(noFile.stat('x'), storageError('AccessDenied', true, /identity file .*missing cannot be read on this node \(ENOENT\)/));
  const noAgent = driver({ identityFile: undefined }, { env: {} });
  await assert.rejects(noAgent.stat('x'), storageError('AccessDenied', true, /no ssh-agent on this node \(SSH_AUTH_SOCK is not set\)/));

  const locked = join(await tempDir('ssh-id'), 'locked');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret words', '-f', locked]);
  await assert.rejects(driver({ identityFile: locked }).stat('x'), storageError('AccessDenied', true, /locked is not a usable private key: .*passphrase.*ssh-agent/));

  // Errors name the identity file, never its content.
  const keyText = await readFile(lab().key, 'utf8');
  const garbled = join(await tempDir('ssh-id'), 'garbled');
  await writeFile(garbled, keyText.replace(/^(.{40}).{10}/m, '$1XXXXXXXXXX'));
  const bad = driver({ identityFile: garbled });
  const err = await bad.stat('x').then(
    () => assert.fail('connected with a garbled key'),
    (e: unknown) => e as StorageError
  );
  assert.equal(err.code, 'AccessDenied');
  const secret = keyText.split('\n')[1]!;
  assert.ok(!err.message.includes(secret) && !String(err.stack).includes(secret), 'no key material in the error');

  const agent = await startAgent();
  const viaAgent = driver({ identityFile: undefined }, { env: { SSH_AUTH_SOCK: agent } });
  await viaAgent.put(`${RUN}/agent/x`, Buffer.from('via agent'));
  assert.equal(await text(viaAgent, `${RUN}/agent/x`), 'via agent');
});

/** ssh-agent in the foreground (we own its pid) holding the lab key; returns its socket. */
async function startAgent(): Promise<string> {
  const sock = join(await tempDir('ssh-agent'), 'agent.sock');
  const child: ChildProcess = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  cleanups.push(async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  });
  for (let i = 0; i < 50 && !existsSync(sock); i++) await sleep(100);
  execFileSync('ssh-add', ['-q', lab().key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
  return sock;
}

test('connection failures are Unavailable and retryable; a dropped connection is reopened', async () => {
  const l = lab();
  const right = await labHostKey();
  // Nothing listens on the relay's port once it is closed.
  const gone = await relay();
  const deadPort = gone.port;
  await gone.close();
  const refused = driver({ port: deadPort, knownHostsFile: await knownHostsFile(`[${l.host}]:${deadPort} ${right}\n`) });
  await assert.rejects(refused.stat('x'), storageError('Unavailable', false, /cannot connect: .*ECONNREFUSED/));

  const r = await relay();
  const s = driver({ port: r.port, knownHostsFile: await knownHostsFile(`[${l.host}]:${r.port} ${right}\n`) });
  await s.put(`${RUN}/relay/a`, Buffer.from('a'));
  assert.equal(s.connectionsOpened, 1);
  const inFlight = s.put(`${RUN}/relay/big`, randomBytes(8 * 1024 * 1024));
  await sleep(20);
  r.cut();
  await assert.rejects(inFlight, storageError('Unavailable', false));
  assert.equal(await text(s, `${RUN}/relay/a`), 'a', 'the next call reconnects');
  assert.equal(s.connectionsOpened, 2);
  await s.close();
  assert.equal(await s.stat(`${RUN}/relay/a`).then((o) => o?.size), 1, 'usable again after close()');
  assert.equal(s.connectionsOpened, 3);
});

test('abort: a put stops and leaves no temp file, a get stream is destroyed, the driver stays usable', async () => {
  const s = driver();
  const p = `${RUN}/abort`;
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(s.put(`${p}/pre`, Buffer.from('x'), { signal: pre.signal }), { name: 'AbortError' });

  const ac = new AbortController();
  const put = s.put(`${p}/big`, randomBytes(32 * 1024 * 1024), { signal: ac.signal });
  await sleep(30);
  ac.abort();
  await assert.rejects(put, { name: 'AbortError' });
  assert.deepEqual(await keys(s, `${p}/`, true), [], 'nothing left, not even a temp file');

  await s.put(`${p}/read`, randomBytes(4 * 1024 * 1024));
  const rc = new AbortController();
  const stream = await s.get(`${p}/read`, { signal: rc.signal });
  let got = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) {
        got += (chunk as Buffer).length;
        if (got > 256 * 1024) rc.abort();
      }
    })(),
    { name: 'AbortError' }
  );
  assert.ok(stream.destroyed);
  await assert.rejects(s.stat(`${p}/read`, { signal: rc.signal }), { name: 'AbortError' });
  await assert.rejects(
    (async () => {
      for await (const o of s.list(`${p}/`, { signal: rc.signal })) assert.fail(`listed ${o.key} after the abort`);
    })(),
    { name: 'AbortError' }
  );
  assert.equal((await s.stat(`${p}/read`))?.size, 4 * 1024 * 1024, 'still usable');
  assert.equal(s.connectionsOpened, 1);
});

test('abort of a put on a stalled connection returns after a bounded cleanup and drops the connection', async () => {
  const l = lab();
  const r = await relay();
  const s = driver({ port: r.port, knownHostsFile: await knownHostsFile(`[${l.host}]:${r.port} ${await labHostKey()}\n`) });
  await s.put(`${RUN}/stall/a`, Buffer.from('a'));
  r.stall();
  const ac = new AbortController();
  const put = s.put(`${RUN}/stall/b`, randomBytes(1024 * 1024), { signal: ac.signal });
  await sleep(50);
  const t0 = Date.now();
  ac.abort();
  await assert.rejects(put, { name: 'AbortError' });
  const took = Date.now() - t0;
  assert.ok(took < 8_000, `abort took ${took} ms`);
  await s.close();
});

test('the registry opens ssh targets; node activities back up to and restore from ssh storage', async () => {
  const storage = target({ path: `${lab().root}/${RUN}/activities` });
  const d = openStorage(storage);
  assert.ok(d instanceof SshStorage);
  assert.equal(d.description, `ssh://${storage.user}@${storage.host}:${storage.port}${storage.path}`);
  await d.close();

  const acts = createNodeActivities({ openStorage });
  const run = <F extends (...args: never[]) => Promise<unknown>>(env: MockActivityEnvironment, fn: F, ...args: Parameters<F>): ReturnType<F> =>
    env.run(fn as never, ...(args as never[])) as ReturnType<F>;
  const src = await tempDir('ssh-src');
  await generateTree(src, { bigFileBytes: 1024 * 1024 });
  const input: BackupFsInput & { timestamp: string } = {
    node: 'test-node',
    name: 'ssh',
    paths: [src],
    exclude: [],
    storage,
    compression: 'zstd',
    segmentSize: 128 * 1024,
    timestamp: '20261126T120000.000Z',
  };
  const plan = await run(new MockActivityEnvironment(), acts.planFsBackup, input);
  const result = await run(new MockActivityEnvironment(), acts.backupFilesystem, { ...input, ...plan });
  assert.ok(result.stats.segments >= 1);
  const listed = await run(new MockActivityEnvironment(), acts.listStoredBackups, { node: 'test-node', storage });
  assert.deepEqual(
    listed.map((b) => b.ref),
    [result.ref]
  );
  const dst = await tempDir('ssh-dst');
  await run(new MockActivityEnvironment(), acts.restoreFilesystem, {
    node: 'test-node',
    storage,
    name: 'ssh',
    target: dst,
    overwrite: false,
    allowExternalSymlinks: false,
    ref: result.ref,
    stagingId: 'wf-ssh',
  });
  assert.deepEqual(await diffTrees(src, dst), []);

  // Cancelled mid-stream: every segment and temp file is removed from the server.
  const bigSrc = await tempDir('ssh-src');
  await writeRandomFile(join(bigSrc, 'big.bin'), 8 * 1024 * 1024);
  const second = { ...input, paths: [bigSrc], compression: 'none' as const, timestamp: '20261126T130000.000Z' };
  const plan2 = await run(new MockActivityEnvironment(), acts.planFsBackup, second);
  const env = new MockActivityEnvironment();
  let cancelled = false;
  env.on('heartbeat', (p: TransferProgress) => {
    if (!cancelled && p.segment >= 3) {
      cancelled = true;
      env.cancel();
    }
  });
  await assert.rejects(run(env, acts.backupFilesystem, { ...second, ...plan2 }), (e: unknown) => e instanceof CancelledFailure);
  const left = await listFiles(storage.path);
  assert.ok(left.length > 0);
  assert.deepEqual(
    left.filter((f) => !f.startsWith('test-node_ssh/20261126T120000.000Z/')),
    [],
    'only the committed backup remains'
  );

  // Storage errors surface as typed failures: a host key mismatch is not retried.
  const mismatch = { ...storage, knownHostsFile: await knownHostsFile(`[${storage.host}]:${storage.port} ${strangerKey()}\n`) };
  await assert.rejects(
    run(new MockActivityEnvironment(), acts.listStoredBackups, { node: 'test-node', storage: mismatch }),
    (e: unknown) => e instanceof ApplicationFailure && e.type === 'StorageAccessDenied' && e.nonRetryable === true && /did not match known_hosts/.test(e.message)
  );
});
