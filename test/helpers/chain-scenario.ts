/**
 * Issue 5's scenario, through the real Temporal path on any storage: a chain 0,1,2 then 1 (alwaysLevel) with files
 * added, modified, deleted and renamed between runs; every point in time restores to exactly its tree, by exact
 * backup and by date; a dry run only plans; a date before the first backup fails clearly.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeFailure } from '../../client';
import { parseBackupTimestamp } from '../../workflows/shared/naming';
import type { BackupFsResult, LevelPolicy } from '../../workflows/shared/types';
import type { TestEnv } from './temporal';
import { diffTrees, generateTree, tempDir } from './tree';

async function snapshot(src: string): Promise<string> {
  const dir = join(await tempDir('snap'), 's');
  execFileSync('cp', ['-a', src, dir]);
  return dir;
}

export async function runChainScenario(env: TestEnv, storage: string, name: string): Promise<void> {
  const src = await tempDir(`chain-${name}`);
  await generateTree(src, { bigFileBytes: 3 * 1024 * 1024 });
  const points: { r: BackupFsResult; tree: string }[] = [];
  const backup = async (levels: LevelPolicy): Promise<void> => {
    const r = await env.client.backupFs({ paths: [src], name, storage, levels, segmentSize: '1MiB' });
    points.push({ r, tree: await snapshot(src) });
  };

  await backup({ maxLevel: 3 });
  await writeFile(join(src, 'added.txt'), 'added at level 1');
  await writeFile(join(src, 'deep/small-7.txt'), 'modified at level 1');
  await unlink(join(src, 'empty.txt'));
  await rename(join(src, 'private/notes.md'), join(src, 'private/renamed.md'));
  await backup({ maxLevel: 3 });
  await rm(join(src, 'deep/er'), { recursive: true });
  await mkdir(join(src, 'new-folder'));
  await writeFile(join(src, 'new-folder/file'), 'level 2');
  await unlink(join(src, 'link-to-leaf'));
  await symlink('new-folder/file', join(src, 'link-to-leaf'));
  await backup({ maxLevel: 3 });
  await unlink(join(src, 'added.txt'));
  await writeFile(join(src, 'differential.txt'), 'level 1 again, against level 0');
  await backup({ alwaysLevel: 1 });

  const listed = await env.client.listBackups({ storage, name });
  assert.deepEqual(
    listed.map((b) => [b.level, b.parent]),
    [
      [0, null],
      [1, points[0]!.r.ref.timestamp],
      [2, points[1]!.r.ref.timestamp],
      [1, points[0]!.r.ref.timestamp],
    ],
    'levels and parents as list shows them'
  );
  assert.ok(points[1]!.r.stats.bytes < 1024 * 1024, 'a level stores only what changed');

  for (const [i, p] of points.entries()) {
    const id = `${p.r.ref.host}_${p.r.ref.name}/${p.r.ref.timestamp}`;
    const exact = join(await tempDir('chain-dst'), 'exact');
    await env.client.restoreFs({ name, storage, target: exact, backup: id });
    assert.deepEqual(await diffTrees(p.tree, exact), [], `point ${i} by backup id`);
    // By date: one millisecond after this backup's timestamp, before the next one.
    const at = new Date(parseBackupTimestamp(p.r.ref.timestamp)!.getTime() + 1).toISOString();
    const dated = join(await tempDir('chain-dst'), 'dated');
    const result = await env.client.restoreFs({ name, storage, target: dated, fromDate: at });
    assert.deepEqual(result.ref, p.r.ref, `point ${i} chosen by date`);
    assert.deepEqual(await diffTrees(p.tree, dated), [], `point ${i} by date`);
  }

  const dry = join(await tempDir('chain-dst'), 'dry');
  const handle = await env.client.startRestoreFs({ name, storage, target: dry, dryRun: true });
  const plan = await env.client.restorePlan(handle.workflowId);
  const result = await handle.result();
  assert.equal(result.dryRun, true);
  assert.deepEqual(plan?.map((b) => b.ref), [points[0]!.r.ref, points[3]!.r.ref], 'the differential applies on its level 0 only');
  await assert.rejects(import('node:fs/promises').then((fs) => fs.access(dry)), 'a dry run writes nothing');

  const early = await env.client.startRestoreFs({ name, storage, target: join(await tempDir('chain-dst'), 'x'), fromDate: '2001-01-01' });
  await assert.rejects(early.result(), (e: unknown) => /NoBackupFoundError: .*no backup at or before 2001-01-01T00:00:00.000Z/.test(describeFailure(e)));
}
