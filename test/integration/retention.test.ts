/** Retention through the real dev server and workers, over local storage: planted chains, dry runs, prunes, restores. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { describeFailure } from '../../client';
import { createNodeActivities } from '../../activities';
import type { StorageDriver } from '../../activities/storage/driver';
import { StorageError } from '../../activities/storage/driver';
import { LocalStorage } from '../../activities/storage/local';
import { manifestKey } from '../../workflows/shared/naming';
import type { BackupRef, StorageTarget } from '../../workflows/shared/types';
import { mockEnv, runActivity } from '../helpers/activity';
import { runCli } from '../helpers/cli';
import type { CliResult } from '../helpers/cli';
import { activityTypes, startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { ago, isCommitted, keysOf, plantBackup } from '../helpers/plant';
import { listFiles, tempDir } from '../helpers/tree';


let env: TestEnv;
let storage: LocalStorage;
before(async () => {
  env = await startTestEnv();
  storage = new LocalStorage(env.storageDir);
});
after(async () => env.shutdown());

const ref = (name: string, timestamp: string): BackupRef => ({ host: env.node, name, timestamp });

/** MockActivityEnvironment.run with the activity's own argument and result types. */
function run<F extends (...args: never[]) => Promise<unknown>>(fn: F, ...args: Parameters<F>): ReturnType<F> {
  return runActivity(mockEnv(), fn, ...args);
}

const cli = (...args: string[]): Promise<CliResult> => runCli(env, ...args);

/**
 * Two chains of `name`, older-than 30d:
 *  - chain A (45, 44, 43 days ago; levels 0, 1, 2): all older, nothing kept needs them -> deleted, A2 first;
 *  - chain B (a level 0 35 days ago, B1 34 days, B2 5 days on B1, B1' 2 days on B0): B2 and B1' are recent, so
 *    B1 and B0 stay although older than 30 days (Freezer's --remove-older-than would delete them).
 */
type Chains = Record<'A0' | 'A1' | 'A2' | 'B0' | 'B1' | 'B2' | 'B1b', string>;

async function plantChains(name: string): Promise<Chains> {
  const now = Date.now();
  const t = { A0: ago(45, now), A1: ago(44, now), A2: ago(43, now), B0: ago(35, now), B1: ago(34, now), B2: ago(5, now), B1b: ago(2, now) };
  await plantBackup(storage, ref(name, t.A0));
  await plantBackup(storage, ref(name, t.A1), { level: 1, chain: t.A0, parent: t.A0 });
  await plantBackup(storage, ref(name, t.A2), { level: 2, chain: t.A0, parent: t.A1 });
  await plantBackup(storage, ref(name, t.B0));
  await plantBackup(storage, ref(name, t.B1), { level: 1, chain: t.B0, parent: t.B0 });
  await plantBackup(storage, ref(name, t.B2), { level: 2, chain: t.B0, parent: t.B1 });
  await plantBackup(storage, ref(name, t.B1b), { level: 1, chain: t.B0, parent: t.B0 });
  return t;
}

test('a dry run returns the chain-aware plan and changes nothing', async () => {
  const t = await plantChains('dry');
  const before = await listFiles(env.storageDir);
  const r = await env.client.pruneBackups({ name: 'dry', olderThan: '30d', dryRun: true });
  assert.equal(r.dryRun, true);
  assert.deepEqual(r.plan.delete.map((d) => d.timestamp), [t.A2, t.A1, t.A0], 'children before parents');
  assert.deepEqual(r.plan.keep.map((k) => k.timestamp), [t.B0, t.B1, t.B2, t.B1b]);
  assert.deepEqual(r.plan.keep[0]!.reasons, [`needed by ${t.B1b}`, `needed by ${t.B1}`]);
  assert.deepEqual(r.plan.keep[1]!.reasons, [`needed by ${t.B2}`]);
  assert.deepEqual(r.deleted, []);
  assert.deepEqual(await listFiles(env.storageDir), before, 'the storage is untouched');
  assert.equal((await env.client.listBackups({ name: 'dry' })).length, 7);
});

test('the CLI dry run prints every backup with level, chain, parent, KEEP/DELETE and reasons', async () => {
  const t = await plantChains('cli');
  const before = await listFiles(env.storageDir);
  const r = await cli('prune', '--name', 'cli', '--older-than', '30d', '--keep-last', '1', '--dry-run');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, new RegExp(`^retention plan \\(dry run, nothing deleted\\): ${env.node}_cli in local:`));
  assert.match(lines[1]!, /^policy: keep-last 1, older-than 30d/);
  const row = (ts: string): string => lines.find((l) => l.startsWith(`│ ${ts} `)) ?? '';
  assert.match(row(t.A2), new RegExp(`│ 2 +│ ${t.A0} │ ${t.A1} │.*│ DELETE │ older than 30d`));
  assert.match(row(t.B0), new RegExp(`│ 0 +│ ${t.B0} │ - .*│ KEEP +│ needed by ${t.B1b}; needed by ${t.B1}`));
  assert.match(row(t.B1b), /│ KEEP +│ keep-last 1: #1 newest; within the last 30d/);
  assert.match(r.stdout, /7 backups: keep 4, delete 3/);
  assert.deepEqual(await listFiles(env.storageDir), before);

  const json = await cli('--json', 'prune', '--name', 'cli', '--keep-last', '1', '--dry-run');
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { plan: { keep: { timestamp: string }[] } };
  assert.deepEqual(parsed.plan.keep.map((k) => k.timestamp), [t.B0, t.B1b]);

  const bad = await cli('prune', '--name', 'cli', '--dry-run');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /needs at least one of --keep-last/);
});

test('prune deletes exactly what the plan says, children first; kept backups still list and restore', async () => {
  const t = await plantChains('real');
  const handle = await env.client.startPruneBackups({ name: 'real', olderThan: '30d' });
  const r = await handle.result();
  assert.deepEqual(r.deleted.map((d) => d.timestamp), [t.A2, t.A1, t.A0]);
  assert.deepEqual(r.deleted.map((d) => d.objects), [3, 3, 3], 'manifest and two segments each');
  assert.deepEqual(r.refused, []);
  const listed = await env.client.listBackups({ name: 'real' });
  assert.deepEqual(listed.map((b) => b.ref.timestamp), r.plan.keep.map((k) => k.timestamp));
  for (const ts of [t.A0, t.A1, t.A2]) assert.deepEqual(await keysOf(storage, ref('real', ts)), [], `${ts} left nothing`);
  assert.ok(!(await listFiles(env.storageDir)).some((f) => f.includes(t.A0)), 'no empty folders either');
  assert.deepEqual(await activityTypes(env.client, handle.workflowId), ['listStoredBackups', 'deleteBackup', 'deleteBackup', 'deleteBackup']);
  const described = await env.client.status(handle.workflowId);
  assert.equal(described.searchAttributes.BackupKind, 'prune');
  assert.equal(described.searchAttributes.BackupResource, `${env.node}_real`);

  // The level 0 older than 30 days that recent increments need is still there and restores.
  const target = join(await tempDir('prune-restore'), 'r');
  await env.client.restoreFs({ name: 'real', backup: t.B0, target });
  assert.equal(await readFile(join(target, `file-${t.B0}.txt`), 'utf8'), `content of ${t.B0}\n`);

  // A second run with the same policy finds nothing more to delete.
  const again = await env.client.pruneBackups({ name: 'real', olderThan: '30d' });
  assert.deepEqual(again.plan.delete, []);
});

test('keep-last on level-0 chains: the newest restore, the rest are gone', async () => {
  const now = Date.now();
  const stamps: [string, string, string] = [ago(3, now), ago(2, now), ago(1, now)];
  for (const ts of stamps) await plantBackup(storage, ref('fulls', ts));
  const r = await env.client.pruneBackups({ name: 'fulls', keepLast: 2 });
  assert.deepEqual(r.deleted.map((d) => d.timestamp), [stamps[0]]);
  for (const ts of stamps.slice(1)) {
    const target = join(await tempDir('fulls-restore'), 'r');
    await env.client.restoreFs({ name: 'fulls', backup: ts, target });
    assert.equal(await readFile(join(target, `file-${ts}.txt`), 'utf8'), `content of ${ts}\n`);
  }
  const gone = await env.client.startRestoreFs({ name: 'fulls', backup: stamps[0], target: join(await tempDir('fulls-gone'), 'r') });
  await assert.rejects(gone.result(), (e: unknown) => /NoBackupFoundError/.test(describeFailure(e)));
});

test('a deletion is refused at delete time when a committed backup depends on it; the run fails as a partial prune', async () => {
  // Y1 depends on Y0 but its manifest is of a newer format that this version does not list: the plan does not see
  // it, the delete-time check does.
  const now = Date.now();
  const y0 = ago(40, now);
  const z0 = ago(20, now);
  const y1 = ago(1, now);
  await plantBackup(storage, ref('refuse', y0));
  await plantBackup(storage, ref('refuse', z0));
  await plantBackup(storage, ref('refuse', y1), { level: 1, chain: y0, parent: y0 });
  const m = JSON.parse(await readFile(join(env.storageDir, manifestKey(ref('refuse', y1))), 'utf8')) as Record<string, unknown>;
  await storage.put(manifestKey(ref('refuse', y1)), Buffer.from(JSON.stringify({ ...m, format: 'permafrost-backup/99' })));

  const handle = await env.client.startPruneBackups({ name: 'refuse', olderThan: '30d' });
  let message = '';
  await assert.rejects(handle.result(), (e: unknown) => {
    message = describeFailure(e);
    return true;
  });
  assert.match(message, new RegExp(`PartialPruneError: pruned 0 of 1 planned backups .*REFUSED ${y0} \\(.*needed by ${y1}`));
  assert.ok(await isCommitted(storage, ref('refuse', y0)), 'the refused backup is untouched');
  assert.equal((await keysOf(storage, ref('refuse', y0))).length, 3);

  const out = await cli('prune', '--name', 'refuse', '--older-than', '30d');
  assert.equal(out.code, 1);
  assert.match(out.stdout, new RegExp(`│ ${y0} .*│ REFUSED │`), 'the table still shows what happened');
});

/** A storage whose removals fail after the first one: a deletion that dies right after removing the manifest. */
function failingAfterFirstRemove(inner: StorageDriver): StorageDriver {
  let removes = 0;
  return {
    description: inner.description,
    put: (k, d, o) => inner.put(k, d, o),
    get: (k, o) => inner.get(k, o),
    stat: (k, o) => inner.stat(k, o),
    list: (p, o) => inner.list(p, o),
    remove: async (k, o) => {
      if (++removes > 1) throw new StorageError('Unavailable', 'storage went away');
      await inner.remove(k, o);
    },
    close: () => inner.close(),
  };
}

test('a half-deleted backup is never listed; the retry finishes it, and GC would too', async () => {
  const ts = ago(40);
  const newer = ago(1);
  await plantBackup(storage, ref('half', ts));
  await plantBackup(storage, ref('half', newer));
  const target: StorageTarget = { driver: 'local', path: env.storageDir };
  const flaky = createNodeActivities({ openStorage: () => failingAfterFirstRemove(new LocalStorage(env.storageDir)) });
  await assert.rejects(run(flaky.deleteBackup, { storage: target, ref: ref('half', ts) }), (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure && e.type === 'StorageUnavailable' && !e.nonRetryable, String(e));
    return true;
  });
  assert.equal(await isCommitted(storage, ref('half', ts)), false, 'the manifest went first');
  assert.equal((await keysOf(storage, ref('half', ts))).length, 2, 'the segments are still there');
  assert.deepEqual((await env.client.listBackups({ name: 'half' })).map((b) => b.ref.timestamp), [newer], 'not listed');
  const restore = await env.client.startRestoreFs({ name: 'half', backup: ts, target: join(await tempDir('half'), 'r') });
  await assert.rejects(restore.result(), (e: unknown) => /NoBackupFoundError/.test(describeFailure(e)));

  const gcPlan = await env.client.collectGarbage({ grace: '24h', dryRun: true });
  assert.ok(gcPlan.found.some((f) => f.ref.timestamp === ts && f.ref.name === 'half'), 'GC sees the leftover');

  const acts = createNodeActivities({ openStorage: () => new LocalStorage(env.storageDir) });
  const retry = await run(acts.deleteBackup, { storage: target, ref: ref('half', ts) });
  assert.deepEqual([retry.wasCommitted, retry.objects], [false, 2]);
  assert.deepEqual(await keysOf(storage, ref('half', ts)), []);
  const twice = await run(acts.deleteBackup, { storage: target, ref: ref('half', ts) });
  assert.deepEqual([twice.wasCommitted, twice.objects], [false, 0], 'idempotent');
});

test('deleteBackup refuses a backup that another committed backup is based on (non-retryable)', async () => {
  const p = ago(10);
  const c = ago(9);
  await plantBackup(storage, ref('parent', p));
  await plantBackup(storage, ref('parent', c), { level: 1, chain: p, parent: p });
  const acts = createNodeActivities({ openStorage: () => new LocalStorage(env.storageDir) });
  const target: StorageTarget = { driver: 'local', path: env.storageDir };
  await assert.rejects(run(acts.deleteBackup, { storage: target, ref: ref('parent', p) }), (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure && e.type === 'BackupHasDependentsError' && e.nonRetryable, String(e));
    assert.match(e.message, new RegExp(`needed by ${c}`));
    return true;
  });
  assert.equal((await keysOf(storage, ref('parent', p))).length, 3, 'nothing removed');
  // Children first, then the parent: both go.
  await run(acts.deleteBackup, { storage: target, ref: ref('parent', c) });
  const r = await run(acts.deleteBackup, { storage: target, ref: ref('parent', p) });
  assert.deepEqual([r.wasCommitted, r.objects], [true, 3]);
});

test('invalid policies fail before any workflow starts', async () => {
  await assert.rejects(env.client.pruneBackups({ name: 'x' }), /needs at least one of/);
  await assert.rejects(env.client.pruneBackups({ name: 'x', keepLast: 0 }), /--keep-last must be a whole number/);
  await assert.rejects(env.client.pruneBackups({ name: 'x', olderThan: '1 year' }), /--older-than must be a duration/);
});
