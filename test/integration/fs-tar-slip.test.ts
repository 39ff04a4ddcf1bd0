/** A hostile backup (planted in storage) is refused on restore; nothing is written outside the target. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { describeFailure } from '../../client';
import { commitManifest } from '../../activities/catalog';
import { MANIFEST_FORMAT } from '../../activities/manifest';
import { LocalStorage } from '../../activities/storage/local';
import { segmentKey } from '../../workflows/shared/naming';
import type { BackupRef } from '../../workflows/shared/types';
import { buildTar } from '../helpers/malicious-tar';
import type { EntrySpec } from '../helpers/malicious-tar';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { listFiles, tempDir } from '../helpers/tree';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => env.shutdown());

async function plant(name: string, entries: EntrySpec[]): Promise<BackupRef> {
  const storage = new LocalStorage(env.storageDir);
  const ref = { host: env.node, name, timestamp: '20261126T000000.000Z' };
  const tar = await buildTar(entries);
  await storage.put(segmentKey(ref, 0), tar);
  const stats = { files: 1, dirs: 0, symlinks: 0, hardlinks: 0, bytes: tar.length, streamBytes: tar.length, storedBytes: tar.length, segments: 1 };
  await commitManifest(storage, {
    format: MANIFEST_FORMAT,
    kind: 'fs',
    ref,
    level: 0,
    createdAt: new Date().toISOString(),
    completedAt: new Date().toISOString(),
    workflowId: 'planted',
    runId: 'planted',
    sources: [{ path: '/x', prefix: '' }],
    exclude: [],
    compression: { algorithm: 'none' },
    encryption: null,
    segmentSize: tar.length,
    segments: [{ index: 0, size: tar.length, sha256: createHash('sha256').update(tar).digest('hex') }],
    stats,
    warnings: [],
  });
  return ref;
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
