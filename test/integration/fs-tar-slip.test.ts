/** A hostile backup (planted in storage) is refused on restore; nothing is written outside the target. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describeFailure } from '../../client';
import { LocalStorage } from '../../activities/storage/local';
import type { EntrySpec } from '../helpers/malicious-tar';
import { plantBackup } from '../helpers/plant';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { listFiles, tempDir } from '../helpers/tree';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => env.shutdown());

async function plant(name: string, entries: EntrySpec[]): Promise<void> {
  await plantBackup(new LocalStorage(env.storageDir), { host: env.node, name, timestamp: '20261126T000000.000Z' }, { entries, segments: 1 });
}

async function refused(name: string, entries: EntrySpec[], pattern: RegExp): Promise<string> {
  await plant(name, entries);
  const parent = await tempDir('slip');
  const target = join(parent, 'target');
  const handle = await env.client.startRestoreFs({ name, target });
  await assert.rejects(handle.result(), (e: unknown) => {
    const msg = describeFailure(e);
    assert.match(msg, pattern);
    return true;
  });
  assert.deepEqual(await readdir(parent), ['target'], 'nothing next to the target');
  assert.deepEqual(await listFiles(target), [], 'nothing in the target, no staging folder');
  return parent;
}

test('an entry with ../ is refused', async () => {
  await refused('dotdot', [{ name: 'fine.txt', body: 'ok' }, { name: '../escaped.txt', body: 'evil' }], /UnsafeEntryError: .*'\.\.'/);
});

test('an absolute entry is refused', async () => {
  const victim = join(dirname(await tempDir('abs')), `pf-absolute-${Date.now()}`);
  await refused('absolute', [{ name: victim, body: 'evil' }], /UnsafeEntryError: .*absolute path/);
  await assert.rejects(access(victim), 'the absolute path was not written');
});

test('a write through an archived symlink is refused', async () => {
  await refused(
    'through-link',
    [
      { name: 'up', type: 'symlink', linkname: '..' },
      { name: 'up/escaped.txt', body: 'evil' },
    ],
    /UnsafeEntryError: .*goes through the symlink up/
  );
});

test('a symlink pointing outside the target is refused', async () => {
  await refused('link-out', [{ name: 'passwd', type: 'symlink', linkname: '/etc/passwd' }], /UnsafeEntryError: .*points outside/);
});
