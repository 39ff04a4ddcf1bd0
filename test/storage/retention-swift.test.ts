/**
 * Retention and GC through Temporal over real Swift (the lab: `bash lab/lab.sh up swift keystone` and
 * `eval "$(bash lab/lab.sh env)"`; scripts/test.sh does both). Manifests live in the container, segments in
 * `<container>_segments`: a deletion and a GC must clear both. Fails (never skips) without the lab.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageDriver } from '../../activities/storage/driver';
import { openStorage } from '../../activities/storage/registry';
import { manifestKey } from '../../workflows/shared/naming';
import { parseStorageUrl } from '../../workflows/shared/storage-url';
import type { BackupRef } from '../../workflows/shared/types';
import { describeFailure } from '../../client';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { ago, isCommitted, keysOf, plantBackup } from '../helpers/plant';
import { tempDir } from '../helpers/tree';

const url = `swift:retention-${randomBytes(4).toString('hex')}`;
let env: TestEnv;
let swift: StorageDriver;

before(async () => {
  if (!process.env.OS_AUTH_URL) throw new Error('OS_AUTH_URL is not set: run through `npm test` (scripts/test.sh starts the lab)');
  env = await startTestEnv();
  const parsed = parseStorageUrl(url);
  if (!parsed.ok) throw new Error(parsed.reason);
  swift = openStorage(parsed.target);
});

after(async () => {
  // Leave the containers empty.
  const keys: string[] = [];
  for await (const o of swift.list('', { includeTemporary: true })) keys.push(o.key);
  for (const k of keys) await swift.remove(k);
  await swift.close();
  await env.shutdown();
});

const ref = (name: string, timestamp: string): BackupRef => ({ host: env.node, name, timestamp });

async function allKeys(): Promise<string[]> {
  const out: string[] = [];
  for await (const o of swift.list('')) out.push(o.key);
  return out;
}

test('swift: dry run changes nothing; prune deletes manifests and segments of exactly the plan; kept backups restore', async () => {
  const now = Date.now();
  const t = { A0: ago(45, now), A1: ago(44, now), B0: ago(35, now), B1: ago(2, now), B2: ago(1, now) };
  await plantBackup(swift, ref('chains', t.A0));
  await plantBackup(swift, ref('chains', t.A1), { level: 1, chain: t.A0, parent: t.A0 });
  await plantBackup(swift, ref('chains', t.B0), { segments: 3 });
  await plantBackup(swift, ref('chains', t.B1), { level: 1, chain: t.B0, parent: t.B0 });
  await plantBackup(swift, ref('chains', t.B2), { level: 2, chain: t.B0, parent: t.B1 });

  const before = await allKeys();
  const dry = await env.client.pruneBackups({ name: 'chains', storage: url, olderThan: '30d', dryRun: true });
  assert.deepEqual(dry.plan.delete.map((d) => d.timestamp), [t.A1, t.A0]);
  assert.deepEqual(dry.plan.keep.map((k) => k.timestamp), [t.B0, t.B1, t.B2]);
  assert.deepEqual(dry.plan.keep[0]!.reasons, [`needed by ${t.B1}`], 'older than 30 days, kept for the increments');
  assert.match(dry.plan.keep[1]!.reasons.join('; '), new RegExp(`^within the last 30d; needed by ${t.B2}$`));
  assert.deepEqual(await allKeys(), before, 'a dry run touches nothing');

  const r = await env.client.pruneBackups({ name: 'chains', storage: url, olderThan: '30d' });
  assert.deepEqual(r.deleted.map((d) => [d.timestamp, d.objects]), [
    [t.A1, 3],
    [t.A0, 3],
  ]);
  for (const ts of [t.A0, t.A1]) assert.deepEqual(await keysOf(swift, ref('chains', ts)), [], `${ts}: nothing left in either container`);
  assert.deepEqual((await env.client.listBackups({ name: 'chains', storage: url })).map((b) => b.ref.timestamp), [t.B0, t.B1, t.B2]);
  assert.equal((await keysOf(swift, ref('chains', t.B0))).length, 4, 'the level 0 the increments need is whole');

  const target = join(await tempDir('swift-prune'), 'r');
  await env.client.restoreFs({ name: 'chains', storage: url, backup: t.B0, target });
  assert.equal(await readFile(join(target, `file-${t.B0}.txt`), 'utf8'), `content of ${t.B0}\n`);
});

test('swift: a backup without its manifest is not listed and not restorable; GC removes only old uncommitted folders', async () => {
  const now = Date.now();
  const half = ref('gc', ago(10, now)); // a deletion that died after removing the manifest
  const crashed = ref('gc', ago(3, now)); // a backup that never committed
  const running = ref('gc', ago(1 / 24, now)); // one hour old: may still be uploading
  const kept = ref('gc', ago(20, now));
  await plantBackup(swift, half);
  await swift.remove(manifestKey(half));
  await plantBackup(swift, crashed, { uncommitted: true, segments: 3 });
  await plantBackup(swift, running, { uncommitted: true });
  await plantBackup(swift, kept);

  assert.deepEqual((await env.client.listBackups({ name: 'gc', storage: url })).map((b) => b.ref.timestamp), [kept.timestamp]);
  const restore = await env.client.startRestoreFs({ name: 'gc', storage: url, backup: half.timestamp, target: join(await tempDir('swift-half'), 'r') });
  await assert.rejects(restore.result(), (e: unknown) => /NoBackupFoundError/.test(describeFailure(e)));

  const before = await allKeys();
  const dry = await env.client.collectGarbage({ storage: url, grace: '24h', dryRun: true });
  assert.deepEqual(dry.found.map((f) => [f.ref.timestamp, f.objects]), [
    [half.timestamp, 2],
    [crashed.timestamp, 3],
  ]);
  assert.deepEqual(await allKeys(), before);

  const res = await env.client.collectGarbage({ storage: url, grace: '24h' });
  assert.deepEqual(res.removed.map((f) => f.ref.timestamp), [half.timestamp, crashed.timestamp]);
  assert.deepEqual(await keysOf(swift, crashed), []);
  assert.deepEqual(await keysOf(swift, half), []);
  assert.equal((await keysOf(swift, running)).length, 2, 'younger than the grace: untouched');
  assert.ok(await isCommitted(swift, kept));
  assert.equal((await keysOf(swift, kept)).length, 3, 'committed: untouched');
});
