/** Incremental levels through the node activities: every point of a chain restores to exactly its tree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mockEnv, runActivity } from '../helpers/activity';
import { createNodeActivities } from '../../activities';
import { openStorage } from '../../activities/storage/registry';
import { formatBackupTimestamp } from '../../workflows/shared/naming';
import type { BackupFsInput, BackupFsResult, LevelPolicy } from '../../workflows/shared/types';
import { diffTrees, generateTree, tempDir, writeRandomFile } from '../helpers/tree';

const acts = createNodeActivities({ openStorage });

function run<F extends (...args: never[]) => Promise<unknown>>(fn: F, ...args: Parameters<F>): ReturnType<F> {
  return runActivity(mockEnv(), fn, ...args);
}

let clock = Date.parse('2026-11-01T00:00:00Z');

async function backup(src: string, store: string, levels: LevelPolicy, extra: Partial<BackupFsInput> = {}): Promise<BackupFsResult & { level: number }> {
  clock += 3600_000;
  const input = {
    node: 'n',
    name: 'chain',
    paths: [src],
    exclude: [],
    storage: { driver: 'local' as const, path: store },
    compression: 'zstd' as const,
    segmentSize: 64 * 1024,
    levels,
    timestamp: formatBackupTimestamp(new Date(clock)),
    ...extra,
  };
  const plan = await run(acts.planFsBackup, input);
  const result = await run(acts.backupFilesystem, { ...input, ...plan });
  return { ...result, level: plan.level?.level ?? 0 };
}

async function restore(store: string, r: BackupFsResult, extra: object = {}): Promise<string> {
  const dst = join(await tempDir('chain-dst'), 'r');
  await run(acts.restoreFilesystem, {
    node: 'n',
    storage: { driver: 'local', path: store },
    name: 'chain',
    target: dst,
    overwrite: false,
    allowExternalSymlinks: false,
    ref: r.ref,
    stagingId: `s-${r.ref.timestamp}`,
    ...extra,
  });
  return dst;
}

/** A copy of the tree as it is now, to compare a later restore with. */
async function snapshot(src: string): Promise<string> {
  const dir = join(await tempDir('snap'), 's');
  execFileSync('cp', ['-a', src, dir]);
  return dir;
}

for (const encrypted of [false, true]) {
  test(`a chain 0,1,2,1(alwaysLevel) restores every point in time exactly${encrypted ? ' (encrypted)' : ''}`, async () => {
    const src = await tempDir('chain-src');
    const store = await tempDir('chain-store');
    const keyFile = join(await tempDir('k'), 'key');
    await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
    const extra = encrypted ? { encryption: { keyFile } } : {};
    await generateTree(src, { bigFileBytes: 1024 * 1024 });
    const points: { r: BackupFsResult & { level: number }; tree: string }[] = [];

    points.push({ r: await backup(src, store, { maxLevel: 3 }, extra), tree: await snapshot(src) });
    // level 1: add, modify, delete, rename, a folder removed, a file that becomes a folder
    await writeFile(join(src, 'added.txt'), 'new file');
    await writeFile(join(src, 'deep/small-3.txt'), 'modified, same name');
    await unlink(join(src, 'empty.txt'));
    await rename(join(src, 'script.sh'), join(src, 'renamed.sh'));
    await rm(join(src, 'ünïcødé 文件夹'), { recursive: true });
    await unlink(join(src, 'readonly.txt'));
    await mkdir(join(src, 'readonly.txt'));
    await writeFile(join(src, 'readonly.txt/inside'), 'was a file, now a folder');
    points.push({ r: await backup(src, store, { maxLevel: 3 }, extra), tree: await snapshot(src) });
    // level 2: a symlink retargeted, a folder that becomes a symlink, the big file rewritten
    await unlink(join(src, 'link-to-leaf'));
    await symlink('renamed.sh', join(src, 'link-to-leaf'));
    await rm(join(src, 'deep/er'), { recursive: true });
    await symlink('../private', join(src, 'deep/er'));
    await writeRandomFile(join(src, 'big.bin'), 512 * 1024, 'rewritten');
    points.push({ r: await backup(src, store, { maxLevel: 3 }, extra), tree: await snapshot(src) });
    assert.deepEqual(points.map((p) => p.r.level), [0, 1, 2]);
    assert.ok(points[1]!.r.stats.files < 10, `level 1 stored only what changed (${points[1]!.r.stats.files} files)`);
    assert.equal(points[2]!.r.stats.bytes, 512 * 1024, 'level 2 stored only the rewritten file');

    // A differential: alwaysLevel 1 takes level 1 again, against the level 0 (not the level 2).
    await writeFile(join(src, 'after-differential.txt'), 'x');
    points.push({ r: await backup(src, store, { alwaysLevel: 1 }, extra), tree: await snapshot(src) });
    assert.equal(points[3]!.r.level, 1);

    for (const [i, p] of points.entries()) {
      const dst = await restore(store, p.r, extra);
      assert.deepEqual(await diffTrees(p.tree, dst), [], `point ${i} (level ${p.r.level})`);
    }
  });
}

test('a change of sources or key starts a new chain; a broken chain fails clearly', async () => {
  const src = await tempDir('chain-src');
  const store = await tempDir('chain-store');
  await writeFile(join(src, 'a'), 'a');
  const first = await backup(src, store, { maxLevel: 5 });
  const other = await tempDir('other-src');
  await writeFile(join(other, 'b'), 'b');
  const moved = await backup(other, store, { maxLevel: 5 });
  assert.equal(moved.level, 0, 'other sources: no level on top of the old chain');
  const next = await backup(other, store, { maxLevel: 5 });
  assert.equal(next.level, 1);
  await rm(join(store, `n_chain/${moved.ref.timestamp}/manifest.json`));
  await assert.rejects(restore(store, next), /CorruptBackupError|chain .* is broken/);
  assert.equal(first.level, 0);
});
