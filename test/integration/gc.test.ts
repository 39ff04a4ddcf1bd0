/** Garbage collection through the real dev server and workers, over local storage: only old uncommitted data goes. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LocalStorage, TEMP_MARK } from '../../activities/storage/local';
import { segmentKey } from '../../workflows/shared/naming';
import type { BackupRef } from '../../workflows/shared/types';
import { runCli } from '../helpers/cli';
import type { CliResult } from '../helpers/cli';
import { activityTypes, startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { ago, isCommitted, keysOf, plantBackup } from '../helpers/plant';
import { listFiles, tempDir } from '../helpers/tree';


let env: TestEnv;
let storage: LocalStorage;
let r: Record<string, BackupRef>;
let outside: string[];

before(async () => {
  env = await startTestEnv();
  storage = new LocalStorage(env.storageDir);
  const now = Date.now();
  r = {
    committedOld: { host: env.node, name: 'db', timestamp: ago(40, now) },
    crashed: { host: env.node, name: 'db', timestamp: ago(3, now) }, // segments + an in-flight temp file
    onlyTemp: { host: env.node, name: 'etc', timestamp: ago(2, now) }, // a crash during the first segment's write
    running: { host: env.node, name: 'db', timestamp: ago(1 / 24, now) }, // 1 hour old: may be a running backup
    committedNew: { host: env.node, name: 'db', timestamp: ago(0.5, now) },
  };
  await plantBackup(storage, r.committedOld!);
  await plantBackup(storage, r.committedNew!);
  await plantBackup(storage, r.crashed!, { segments: 3, uncommitted: true });
  await writeTemp(segmentKey(r.crashed!, 3), 'half a segment');
  await writeTemp(segmentKey(r.onlyTemp!, 0), 'half a segment');
  await plantBackup(storage, r.running!, { segments: 2, uncommitted: true });
  // Objects outside the layout are never GC's business.
  outside = ['README.txt', `${env.node}_db/notes.txt`, `${env.node}_db/not-a-timestamp/segments/00000000`];
  for (const key of outside) await storage.put(key, Buffer.from('keep me'));
});
after(async () => env.shutdown());

async function writeTemp(key: string, body: string): Promise<void> {
  const path = `${join(env.storageDir, ...key.split('/'))}${TEMP_MARK}0a1b2c3d4e5f`;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
}

const cli = (...args: string[]): Promise<CliResult> => runCli(env, ...args);

const id = (ref: BackupRef): string => `${ref.host}_${ref.name}/${ref.timestamp}`;

test('a dry run finds the old uncommitted folders, temp files included, and removes nothing', async () => {
  const before = await listFiles(env.storageDir);
  const res = await env.client.collectGarbage({ grace: '24h', dryRun: true });
  assert.deepEqual(res.found.map((f) => id(f.ref)).sort(), [id(r.crashed!), id(r.onlyTemp!)].sort());
  const crashed = res.found.find((f) => f.ref.timestamp === r.crashed!.timestamp)!;
  assert.deepEqual([crashed.objects, crashed.temporary], [4, 1]);
  const onlyTemp = res.found.find((f) => f.ref.timestamp === r.onlyTemp!.timestamp)!;
  assert.deepEqual([onlyTemp.objects, onlyTemp.temporary, onlyTemp.bytes], [1, 1, 14]);
  assert.deepEqual(res.removed, []);
  assert.deepEqual(await listFiles(env.storageDir), before);

  const out = await cli('gc', '--dry-run');
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /^garbage \(dry run, nothing removed\): local:/);
  assert.match(out.stdout, new RegExp(`│ ${id(r.crashed!)} +│ 4 +│ 1 +│ .* │ REMOVE`));
  assert.match(out.stdout, /2 folders, 5 objects/);
  assert.deepEqual(await listFiles(env.storageDir), before);
});

test('a too short grace is refused: it could remove a running backup', async () => {
  const out = await cli('gc', '--grace', '5m');
  assert.equal(out.code, 2);
  assert.match(out.stderr, /--grace must be at least 1h/);
});

test('gc removes only uncommitted folders older than the grace; committed backups and newer folders stay', async () => {
  const handle = await env.client.startCollectGarbage({ grace: '24h' });
  const res = await handle.result();
  assert.deepEqual(res.removed.map((f) => id(f.ref)).sort(), [id(r.crashed!), id(r.onlyTemp!)].sort());
  assert.deepEqual(res.skipped, []);
  assert.deepEqual(await keysOf(storage, r.crashed!), []);
  assert.deepEqual(await keysOf(storage, r.onlyTemp!), []);
  const files = await listFiles(env.storageDir);
  assert.ok(!files.some((f) => f.includes(TEMP_MARK)), 'no temp file is left');
  assert.ok(!files.some((f) => f.startsWith(`${env.node}_etc`)), 'emptied folders are gone too');
  assert.equal((await keysOf(storage, r.running!)).length, 2, 'a folder younger than the grace is untouched');
  for (const c of [r.committedOld!, r.committedNew!]) {
    assert.ok(await isCommitted(storage, c));
    assert.equal((await keysOf(storage, c)).length, 3, `${id(c)} is untouched`);
  }
  for (const key of outside) assert.equal(await readFile(join(env.storageDir, ...key.split('/')), 'utf8'), 'keep me');
  assert.deepEqual(await activityTypes(env.client, handle.workflowId), ['findUncommitted', 'removeUncommitted']);
  assert.equal((await env.client.status(handle.workflowId)).searchAttributes.BackupKind, 'gc');

  // The committed backups still restore; a second run finds nothing.
  const target = join(await tempDir('gc-restore'), 'r');
  await env.client.restoreFs({ name: 'db', backup: r.committedOld!.timestamp, target });
  assert.equal(await readFile(join(target, `file-${r.committedOld!.timestamp}.txt`), 'utf8'), `content of ${r.committedOld!.timestamp}\n`);
  const second = await env.client.startCollectGarbage({ grace: '24h' });
  const again = await second.result();
  assert.deepEqual([again.found, again.removed], [[], []]);
  assert.deepEqual(await activityTypes(env.client, second.workflowId), ['findUncommitted'], 'nothing found, nothing to remove');
});
