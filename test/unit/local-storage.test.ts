import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../../activities/storage/driver';
import { LocalStorage, TEMP_MARK } from '../../activities/storage/local';
import { listFiles, tempDir } from '../helpers/tree';

async function text(s: LocalStorage, key: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of await s.get(key)) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

async function keys(s: LocalStorage, prefix: string, includeTemporary = false): Promise<string[]> {
  const out: string[] = [];
  for await (const o of s.list(prefix, { includeTemporary })) out.push(o.key);
  return out;
}

test('put, get, stat, list in key order, remove (idempotent, prunes empty folders)', async () => {
  const root = await tempDir('local');
  const s = new LocalStorage(root);
  await s.put('a_b/2/segments/00000001', Buffer.from('one'));
  await s.put('a_b/2/segments/00000000', Buffer.from('zero'));
  await s.put('a_b/1/manifest.json', Buffer.from('{}'));
  await s.put('a_bc/1/manifest.json', Buffer.from('{}'));
  assert.equal(await text(s, 'a_b/2/segments/00000000'), 'zero');
  assert.deepEqual(await s.stat('a_b/2/segments/00000001'), { key: 'a_b/2/segments/00000001', size: 3 });
  assert.equal(await s.stat('nope'), undefined);
  assert.deepEqual(await keys(s, 'a_b/'), ['a_b/1/manifest.json', 'a_b/2/segments/00000000', 'a_b/2/segments/00000001']);
  assert.deepEqual(await keys(s, 'a_b'), ['a_b/1/manifest.json', 'a_b/2/segments/00000000', 'a_b/2/segments/00000001', 'a_bc/1/manifest.json']);
  await s.put('a_b/1/manifest.json', Buffer.from('{"v":2}'));
  assert.equal(await text(s, 'a_b/1/manifest.json'), '{"v":2}', 'put replaces atomically');
  await s.remove('a_b/2/segments/00000000');
  await s.remove('a_b/2/segments/00000000');
  await s.remove('a_b/2/segments/00000001');
  assert.deepEqual(await readdir(join(root, 'a_b')), ['1'], 'emptied folders are pruned');
  assert.deepEqual(await listFiles(root), ['a_b/1/manifest.json', 'a_bc/1/manifest.json'], 'no temp files remain');
});

test('listing is in key order across folders and names with dots', async () => {
  const s = new LocalStorage(await tempDir('local'));
  for (const k of ['a/x', 'a.x', 'a-b', 'ab']) await s.put(k, Buffer.from(k));
  assert.deepEqual(await keys(s, ''), ['a-b', 'a.x', 'a/x', 'ab']);
});

test('a forged temp suffix cannot leave the root', async () => {
  const root = await tempDir('local');
  const s = new LocalStorage(join(root, 'store'));
  await mkdir(join(root, 'store', `a${TEMP_MARK}`), { recursive: true });
  await writeFile(join(root, 'outside'), 'keep');
  await assert.rejects(s.remove(`a${TEMP_MARK}/../../outside`), (e: unknown) => e instanceof StorageError && e.code === 'InvalidKey');
  assert.deepEqual(await listFiles(root), ['outside']);
});

test('missing objects and hostile keys are classified', async () => {
  const s = new LocalStorage(await tempDir('local'));
  await assert.rejects(s.get('missing'), (e: unknown) => e instanceof StorageError && e.code === 'NotFound' && e.permanent);
  for (const bad of ['../x', '/abs', 'a//b', 'a/./b', '']) {
    await assert.rejects(s.put(bad, Buffer.from('x')), (e: unknown) => e instanceof StorageError && e.code === 'InvalidKey', bad);
  }
});

test('temp files of dead writers are hidden from listings but can be found and removed', async () => {
  const root = await tempDir('local');
  const s = new LocalStorage(root);
  await mkdir(join(root, 'h_n/t/segments'), { recursive: true });
  await writeFile(join(root, `h_n/t/segments/00000003${TEMP_MARK}abc`), 'partial');
  assert.deepEqual(await keys(s, 'h_n/'), []);
  const temps = await keys(s, 'h_n/', true);
  assert.deepEqual(temps, [`h_n/t/segments/00000003${TEMP_MARK}abc`]);
  await s.remove(temps[0]!);
  assert.deepEqual(await listFiles(root), []);
});

test('an aborted put leaves nothing behind', async () => {
  const root = await tempDir('local');
  const s = new LocalStorage(root);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(s.put('x/y', Buffer.alloc(1024 * 1024), { signal: ac.signal }));
  assert.deepEqual(await listFiles(root), []);
});
