import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mergeStaging, RestoreConflictError, stagingPath } from '../../activities/restore-target';
import { listFiles, tempDir } from '../helpers/tree';

async function setup(): Promise<{ target: string; staging: string }> {
  const target = await tempDir('target');
  const staging = stagingPath(target, 'wf/1');
  await mkdir(join(staging, 'etc/app'), { recursive: true });
  await writeFile(join(staging, 'etc/app/conf'), 'new');
  await writeFile(join(staging, 'top'), 'new top');
  return { target, staging };
}

test('staging names are safe folder names inside the target', () => {
  assert.equal(stagingPath('/t', 'restore-fs/a b'), '/t/.permafrost-restore-restore-fs_a_b');
});

test('a merge into an empty or disjoint target moves everything and leaves no staging', async () => {
  const { target, staging } = await setup();
  await mkdir(join(target, 'etc'));
  await writeFile(join(target, 'etc/other'), 'kept');
  await mergeStaging(staging, target, false);
  assert.equal(await readFile(join(target, 'etc/app/conf'), 'utf8'), 'new');
  assert.equal(await readFile(join(target, 'etc/other'), 'utf8'), 'kept');
  assert.deepEqual(await listFiles(staging), [], 'only emptied folders stay in staging (removed afterwards)');
});

test('without overwrite, any existing file fails the merge before anything moves', async () => {
  const { target, staging } = await setup();
  await mkdir(join(target, 'etc/app'), { recursive: true });
  await writeFile(join(target, 'etc/app/conf'), 'old');
  await assert.rejects(mergeStaging(staging, target, false), (e: unknown) => e instanceof RestoreConflictError && e.paths.includes('etc/app/conf'));
  assert.equal(await readFile(join(target, 'etc/app/conf'), 'utf8'), 'old');
  assert.deepEqual(await readdir(target).then((n) => n.filter((x) => !x.startsWith('.permafrost'))), ['etc'], 'top was not moved either');
});

test('with overwrite, files and symlinks are replaced (never followed), non-empty folders never', async () => {
  const { target, staging } = await setup();
  const outside = await tempDir('outside');
  await mkdir(join(target, 'etc'), { recursive: true });
  await symlink(outside, join(target, 'etc/app')); // a symlink where the backup has a folder
  await writeFile(join(target, 'top'), 'old');
  await mergeStaging(staging, target, true);
  assert.equal(await readFile(join(target, 'etc/app/conf'), 'utf8'), 'new');
  assert.equal(await readFile(join(target, 'top'), 'utf8'), 'new top');
  assert.deepEqual(await readdir(outside), [], 'nothing written through the old symlink');

  const again = await setup();
  await mkdir(join(again.target, 'top'));
  await writeFile(join(again.target, 'top/precious'), 'data');
  await assert.rejects(mergeStaging(again.staging, again.target, true), /non-empty folder/);
  assert.equal(await readFile(join(again.target, 'top/precious'), 'utf8'), 'data');
});
