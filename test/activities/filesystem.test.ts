/** Node activities in a mocked activity context: heartbeats, cancellation, failure types, leftovers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { runActivity } from '../helpers/activity';
import { createNodeActivities } from '../../activities';
import { StorageError } from '../../activities/storage/driver';
import { openStorage } from '../../activities/storage/registry';
import { segmentKey } from '../../workflows/shared/naming';
import type { BackupFsInput, TransferProgress } from '../../workflows/shared/types';
import { diffTrees, generateTree, listFiles, tempDir, writeRandomFile } from '../helpers/tree';

const acts = createNodeActivities({ openStorage });

const run = runActivity;

async function backupInput(src: string, store: string, extra: Partial<BackupFsInput> = {}): Promise<BackupFsInput & { timestamp: string }> {
  return {
    node: 'test-node',
    name: 'unit',
    paths: [src],
    exclude: [],
    storage: { driver: 'local', path: store },
    compression: 'zstd',
    segmentSize: 256 * 1024,
    timestamp: '20261126T120000.000Z',
    ...extra,
  };
}

test('backup heartbeats progress with totals, commits a manifest last, and restores byte-identical', async () => {
  const src = await tempDir('src');
  const store = await tempDir('store');
  await generateTree(src, { bigFileBytes: 2 * 1024 * 1024 });
  const input = await backupInput(src, store);
  const plan = await run(new MockActivityEnvironment(), acts.planFsBackup, input);
  assert.ok(plan.estimate.bytes > 2 * 1024 * 1024);
  const env = new MockActivityEnvironment();
  const beats: TransferProgress[] = [];
  env.on('heartbeat', (d: TransferProgress) => beats.push(d));
  const result = await run(env, acts.backupFilesystem, { ...input, ...plan });
  assert.ok(result.stats.segments >= 8, `segments: ${result.stats.segments}`);
  assert.ok(beats.length >= result.stats.segments, 'a heartbeat per stored segment at least');
  assert.deepEqual(beats.at(-1)?.phase, 'committing');
  assert.equal(beats.at(-2)?.segment, result.stats.segments);
  assert.equal(beats[0]?.totalBytes, plan.estimate.bytes);
  assert.ok(beats.every((b) => !JSON.stringify(b).includes('key')), 'no secrets or keys in heartbeats');
  const manifest = JSON.parse(await readFile(join(store, 'test-node_unit/20261126T120000.000Z/manifest.json'), 'utf8')) as { segments: unknown[] };
  assert.equal(manifest.segments.length, result.stats.segments);

  const dst = await tempDir('dst');
  const restore = await run(new MockActivityEnvironment(), acts.restoreFilesystem, {
    node: 'test-node',
    storage: input.storage,
    name: 'unit',
    target: dst,
    overwrite: false,
    allowExternalSymlinks: false,
    ref: result.ref,
    stagingId: 'wf-1',
  });
  assert.equal(restore.files, result.stats.files);
  assert.equal(restore.hardlinks, result.stats.hardlinks);
  assert.deepEqual(await diffTrees(src, dst), []);
});

test('cancelling a backup mid-stream removes every segment and temp file it wrote', async () => {
  const src = await tempDir('src');
  const store = await tempDir('store');
  await writeRandomFile(join(src, 'big.bin'), 24 * 1024 * 1024);
  const input = await backupInput(src, store, { compression: 'none' });
  const plan = await run(new MockActivityEnvironment(), acts.planFsBackup, input);
  const env = new MockActivityEnvironment();
  let cancelled = false;
  env.on('heartbeat', (d: TransferProgress) => {
    if (!cancelled && d.segment >= 3) {
      cancelled = true;
      env.cancel();
    }
  });
  await assert.rejects(run(env, acts.backupFilesystem, { ...input, ...plan }), (e: unknown) => e instanceof CancelledFailure);
  assert.ok(cancelled);
  assert.deepEqual(await listFiles(store), [], 'no segment, manifest or temp file left');
});

test('errors carry a type; permanent ones are non-retryable', async () => {
  const store = await tempDir('store');
  const missing = await backupInput('/nonexistent/pf-path', store);
  await assert.rejects(
    run(new MockActivityEnvironment(), acts.planFsBackup, missing),
    (e: unknown) => e instanceof ApplicationFailure && e.type === 'InvalidInputError' && e.nonRetryable === true
  );
  await assert.rejects(
    run(new MockActivityEnvironment(), acts.selectBackup, {
      node: 'test-node',
      storage: { driver: 'local', path: store },
      name: 'never',
      target: '/tmp/x',
      overwrite: false,
      allowExternalSymlinks: false,
    }),
    (e: unknown) => e instanceof ApplicationFailure && e.type === 'NoBackupFoundError' && e.nonRetryable === true
  );
});

test('a corrupt segment fails the restore as non-retryable and leaves the target untouched', async () => {
  const src = await tempDir('src');
  const store = await tempDir('store');
  await writeRandomFile(join(src, 'data.bin'), 1024 * 1024);
  const input = await backupInput(src, store, { compression: 'gzip', segmentSize: 128 * 1024 });
  const plan = await run(new MockActivityEnvironment(), acts.planFsBackup, input);
  const result = await run(new MockActivityEnvironment(), acts.backupFilesystem, { ...input, ...plan });
  const victim = join(store, ...segmentKey(result.ref, 3).split('/'));
  const bytes = await readFile(victim);
  bytes[100] = bytes[100]! ^ 0xff;
  await writeFile(victim, bytes);

  const dst = await tempDir('dst');
  await writeFile(join(dst, 'existing'), 'keep me');
  await assert.rejects(
    run(new MockActivityEnvironment(), acts.restoreFilesystem, {
      node: 'test-node',
      storage: input.storage,
      name: 'unit',
      target: dst,
      overwrite: true,
      allowExternalSymlinks: false,
      ref: result.ref,
      stagingId: 'wf-2',
    }),
    (e: unknown) => e instanceof ApplicationFailure && e.type === 'CorruptSegmentError' && e.nonRetryable === true && /segment 3/.test(e.message)
  );
  assert.deepEqual(await listFiles(dst), ['existing'], 'no partial file and no staging folder');
  assert.equal(await readFile(join(dst, 'existing'), 'utf8'), 'keep me');
});

test('a retried backup attempt after a crash starts clean; a committed one is not redone', async () => {
  const src = await tempDir('src');
  const store = await tempDir('store');
  await writeFile(join(src, 'f'), 'data');
  const input = await backupInput(src, store);
  const plan = await run(new MockActivityEnvironment(), acts.planFsBackup, input);
  // What a worker killed mid-upload leaves: a segment and a temp file, no manifest.
  const seg = join(store, ...segmentKey(plan.ref, 0).split('/'));
  await (await import('node:fs/promises')).mkdir(join(seg, '..'), { recursive: true });
  await writeFile(seg, 'stale');
  await writeFile(`${seg}.pf-tmp-dead`, 'partial');
  const first = await run(new MockActivityEnvironment({ attempt: 2 }), acts.backupFilesystem, { ...input, ...plan });
  assert.deepEqual(await listFiles(store), [
    'test-node_unit/20261126T120000.000Z/index',
    'test-node_unit/20261126T120000.000Z/manifest.json',
    'test-node_unit/20261126T120000.000Z/segments/00000000',
  ]);
  const again = await run(new MockActivityEnvironment({ attempt: 3 }), acts.backupFilesystem, { ...input, ...plan });
  assert.deepEqual(again, first);
});

test('encrypted backups: no plaintext stored, the right key restores, a wrong key is refused before any write', async () => {
  const src = await tempDir('src');
  const store = await tempDir('store');
  const keys = await tempDir('keys');
  await writeFile(join(src, 'secret.txt'), 'the plaintext marker 0123456789\n'.repeat(1000));
  const keyFile = join(keys, 'k');
  await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const wrongKey = join(keys, 'wrong');
  await writeFile(wrongKey, randomBytes(32).toString('hex'), { mode: 0o600 });
  const input = await backupInput(src, store, { compression: 'none', encryption: { keyFile } });
  const plan = await run(new MockActivityEnvironment(), acts.planFsBackup, input);
  const beats: unknown[] = [];
  const env = new MockActivityEnvironment();
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const result = await run(env, acts.backupFilesystem, { ...input, ...plan });
  for (const f of await listFiles(store)) {
    assert.equal((await readFile(join(store, f))).indexOf('plaintext marker'), -1, `${f} holds plaintext`);
  }
  const manifest = await readFile(join(store, 'test-node_unit/20261126T120000.000Z/manifest.json'), 'utf8');
  assert.match(manifest, /"algorithm": "aes-256-gcm"/);
  const keyHex = (await readFile(keyFile, 'utf8')).trim();
  for (const text of [manifest, JSON.stringify(beats), JSON.stringify(result)]) assert.ok(!text.includes(keyHex), 'key material leaked');

  const restoreInput = {
    node: 'test-node',
    storage: input.storage,
    name: 'unit',
    overwrite: false,
    allowExternalSymlinks: false,
    ref: result.ref,
  };
  const dst = await tempDir('dst');
  await run(new MockActivityEnvironment(), acts.restoreFilesystem, { ...restoreInput, target: dst, stagingId: 'e1', encryption: { keyFile } });
  assert.deepEqual(await diffTrees(src, dst), []);

  const refused = await tempDir('dst');
  await assert.rejects(
    run(new MockActivityEnvironment(), acts.restoreFilesystem, { ...restoreInput, target: refused, stagingId: 'e2', encryption: { keyFile: wrongKey } }),
    (e: unknown) => e instanceof ApplicationFailure && e.type === 'EncryptionKeyMismatchError' && e.nonRetryable === true
  );
  await assert.rejects(
    run(new MockActivityEnvironment(), acts.restoreFilesystem, { ...restoreInput, target: refused, stagingId: 'e3' }),
    (e: unknown) => e instanceof ApplicationFailure && e.type === 'InvalidInputError' && /is encrypted: give its key/.test(e.message)
  );
  assert.deepEqual(await listFiles(refused), []);
});

/** Local storage that counts segment uploads and can fail like an outage after a number of them. */
function flakyStorage(failAfter: number): { open: typeof openStorage; puts: () => number } {
  let puts = 0;
  const open: typeof openStorage = (target) => {
    const inner = openStorage(target);
    return Object.assign(Object.create(inner) as typeof inner, {
      async put(key: string, data: Buffer, opts?: { signal?: AbortSignal }): Promise<void> {
        if (key.includes('/segments/')) {
          if (puts >= failAfter) throw new StorageError('Unavailable', 'storage went away');
          puts++;
        }
        return inner.put(key, data, opts);
      },
    });
  };
  return { open, puts: () => puts };
}

for (const encrypted of [false, true]) {
  test(`a retried attempt reuses verified segments instead of uploading them again${encrypted ? ' (encrypted)' : ''}`, async () => {
    const src = await tempDir('src');
    const store = await tempDir('store');
    await writeRandomFile(join(src, 'data.bin'), 3 * 1024 * 1024);
    await writeFile(join(src, 'small.txt'), 'small');
    const keyFile = join(await tempDir('keys'), 'k');
    await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
    const input = await backupInput(src, store, { compression: 'none', segmentSize: 256 * 1024, ...(encrypted ? { encryption: { keyFile } } : {}) });
    const plan = await run(new MockActivityEnvironment(), acts.planFsBackup, input);

    const outage = flakyStorage(5);
    const first = createNodeActivities({ openStorage: outage.open });
    await assert.rejects(
      run(new MockActivityEnvironment(), first.backupFilesystem, { ...input, ...plan }),
      (e: unknown) => e instanceof ApplicationFailure && e.type === 'StorageUnavailable' && !e.nonRetryable
    );
    assert.equal((await listFiles(store)).filter((f) => f.includes('/segments/')).length, 5, 'kept for the next attempt');

    const counting = flakyStorage(Infinity);
    const second = createNodeActivities({ openStorage: counting.open });
    const result = await run(new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { segment: 4 } }), second.backupFilesystem, { ...input, ...plan });
    assert.equal(counting.puts(), result.stats.segments - 5, 'only the segments the first attempt never stored');

    const dst = await tempDir('dst');
    await run(new MockActivityEnvironment(), acts.restoreFilesystem, {
      node: 'test-node',
      storage: input.storage,
      name: 'unit',
      target: dst,
      overwrite: false,
      allowExternalSymlinks: false,
      ref: result.ref,
      stagingId: 'r',
      ...(encrypted ? { encryption: { keyFile } } : {}),
    });
    assert.deepEqual(await diffTrees(src, dst), []);
  });
}

test('a retried attempt re-uploads a segment whose source changed, and drops segments past the new end', async () => {
  const src = await tempDir('src');
  const store = await tempDir('store');
  await writeRandomFile(join(src, 'data.bin'), 2 * 1024 * 1024, 'first');
  const input = await backupInput(src, store, { compression: 'none', segmentSize: 256 * 1024 });
  const plan = await run(new MockActivityEnvironment(), acts.planFsBackup, input);
  const outage = flakyStorage(6);
  await assert.rejects(run(new MockActivityEnvironment(), createNodeActivities({ openStorage: outage.open }).backupFilesystem, { ...input, ...plan }));
  await writeRandomFile(join(src, 'data.bin'), 512 * 1024, 'second'); // changed and shorter
  const counting = flakyStorage(Infinity);
  const result = await run(new MockActivityEnvironment({ attempt: 2 }), createNodeActivities({ openStorage: counting.open }).backupFilesystem, { ...input, ...plan });
  assert.equal(counting.puts(), result.stats.segments, 'every segment differs, so every one is stored anew');
  const segments = (await listFiles(store)).filter((f) => f.includes('/segments/'));
  assert.equal(segments.length, result.stats.segments, 'stale segments past the end are gone');
  const dst = await tempDir('dst');
  await run(new MockActivityEnvironment(), acts.restoreFilesystem, {
    node: 'test-node',
    storage: input.storage,
    name: 'unit',
    target: dst,
    overwrite: false,
    allowExternalSymlinks: false,
    ref: result.ref,
    stagingId: 's',
  });
  assert.deepEqual(await diffTrees(src, dst), []);
});

test('the upload and download limits hold the transfer to the given rate', async () => {
  const src = await tempDir('src');
  const store = await tempDir('store');
  await writeRandomFile(join(src, 'data.bin'), 3 * 1024 * 1024);
  const limit = 1024 * 1024;
  const input = await backupInput(src, store, { compression: 'none', bandwidthLimit: limit });
  const plan = await run(new MockActivityEnvironment(), acts.planFsBackup, input);
  let start = performance.now();
  const result = await run(new MockActivityEnvironment(), acts.backupFilesystem, { ...input, ...plan });
  // 1 MiB of burst passes at once; the rest at 1 MiB/s. Lower bounds only: load can only make it slower.
  assert.ok(performance.now() - start >= 1900, `backup took ${(performance.now() - start).toFixed(0)} ms`);
  start = performance.now();
  await run(new MockActivityEnvironment(), acts.restoreFilesystem, {
    node: 'test-node',
    storage: input.storage,
    name: 'unit',
    target: await tempDir('dst'),
    overwrite: false,
    allowExternalSymlinks: false,
    ref: result.ref,
    stagingId: 'l',
    bandwidthLimit: limit,
  });
  assert.ok(performance.now() - start >= 1900, `restore took ${(performance.now() - start).toFixed(0)} ms`);
});

test('fan-out: a target that fails mid-way is dropped, reported and cleaned; the others commit', async () => {
  const src = await tempDir('src');
  await writeRandomFile(join(src, 'data.bin'), 2 * 1024 * 1024);
  const [a, b, c] = [await tempDir('a'), await tempDir('b'), await tempDir('c')];
  let bPuts = 0;
  const open: typeof openStorage = (target) => {
    const inner = openStorage(target);
    if (target.driver !== 'local' || target.path !== b) return inner;
    return Object.assign(Object.create(inner) as typeof inner, {
      async put(key: string, data: Buffer, opts?: { signal?: AbortSignal }): Promise<void> {
        if (key.includes('/segments/') && ++bPuts > 2) throw new StorageError('Unavailable', 'disk b went away');
        return inner.put(key, data, opts);
      },
    });
  };
  const fan = createNodeActivities({ openStorage: open });
  const input = {
    ...(await backupInput(src, a, { compression: 'none' as const, segmentSize: 256 * 1024 })),
    copies: [{ driver: 'local' as const, path: b }, { driver: 'local' as const, path: c }],
  };
  const plan = await run(new MockActivityEnvironment(), fan.planFsBackup, input);
  const result = await run(new MockActivityEnvironment(), fan.backupFilesystem, { ...input, ...plan });
  assert.deepEqual(
    result.targets.map((t) => [t.storage, t.committed]),
    [
      [`local:${a}`, true],
      [`local:${b}`, false],
      [`local:${c}`, true],
    ]
  );
  assert.match(result.targets[1]!.error ?? '', /disk b went away/);
  assert.deepEqual(await listFiles(b), [], 'the failed target keeps nothing');
  for (const store of [a, c]) {
    const dst = await tempDir('dst');
    await run(new MockActivityEnvironment(), acts.restoreFilesystem, {
      node: 'test-node',
      storage: { driver: 'local', path: store },
      name: 'unit',
      target: dst,
      overwrite: false,
      allowExternalSymlinks: false,
      ref: result.ref,
      stagingId: 'f',
    });
    assert.deepEqual(await diffTrees(src, dst), []);
  }
});
