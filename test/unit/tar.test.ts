import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extractTar } from '../../activities/pipeline/tar-extract';
import { packSources } from '../../activities/pipeline/tar-pack';
import { UnsafeEntryError } from '../../activities/pipeline/path-safety';
import { sourcePrefixes } from '../../activities/pipeline/walk';
import { buildTar } from '../helpers/malicious-tar';
import type { EntrySpec } from '../helpers/malicious-tar';
import { diffTrees, generateTree, listFiles, tempDir } from '../helpers/tree';

async function packToBuffer(paths: string[], exclude: string[] = []): Promise<{ tar: Buffer; warnings: string[] }> {
  const warnings: string[] = [];
  const { stream, done } = packSources({ sources: sourcePrefixes(paths), exclude, onWarning: (w) => warnings.push(w) });
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  await done;
  return { tar: Buffer.concat(parts), warnings };
}

function extract(tar: Buffer, root: string, allowExternalSymlinks = false): ReturnType<typeof extractTar> {
  return extractTar(Readable.from([tar]), { root, allowExternalSymlinks, restoreOwners: false });
}

test('pack and extract round-trip a tree exactly (contents, modes, links, unicode, mtimes)', async () => {
  const src = await tempDir('src');
  await generateTree(src, { bigFileBytes: 3 * 1024 * 1024 + 17 });
  const { tar, warnings } = await packToBuffer([src]);
  assert.deepEqual(warnings, []);
  const dst = await tempDir('dst');
  const { stats, dirs } = await extract(tar, dst);
  const { applyDirMeta } = await import('../../activities/restore-target');
  await applyDirMeta(dst, dirs, false);
  assert.deepEqual(await diffTrees(src, dst), []);
  assert.equal(stats.hardlinks, 1);
  assert.equal(stats.symlinks, 3);
});

test('several sources are stored under their absolute paths; excludes apply', async () => {
  const a = await tempDir('a');
  const b = await tempDir('b');
  await writeFile(join(a, 'keep.txt'), 'a');
  await writeFile(join(a, 'skip.log'), 'no');
  await mkdir(join(b, 'cache'));
  await writeFile(join(b, 'cache/x'), 'no');
  await writeFile(join(b, 'keep.txt'), 'b');
  const { tar } = await packToBuffer([a, b], ['*.log', 'cache']);
  const dst = await tempDir('dst');
  await extract(tar, dst);
  const files = await listFiles(dst);
  assert.deepEqual(files, [`${a.slice(1)}/keep.txt`, `${b.slice(1)}/keep.txt`]);
});

test('special files (fifos) are skipped with a warning, not a failure', async () => {
  const src = await tempDir('src');
  await writeFile(join(src, 'regular'), 'r');
  execFileSync('mkfifo', [join(src, 'pipe')]);
  const { tar, warnings } = await packToBuffer([src]);
  assert.deepEqual(warnings, [`skipped special file (socket, fifo or device): ${join(src, 'pipe')}`]);
  const dst = await tempDir('dst');
  await extract(tar, dst);
  assert.deepEqual(await listFiles(dst), ['regular']);
});

test('a file that changes size while read keeps the archive valid and is reported', async () => {
  const src = await tempDir('src');
  await writeFile(join(src, 'grows.txt'), 'x'.repeat(3 * 1024 * 1024));
  const warnings: string[] = [];
  const { stream, done } = packSources({ sources: sourcePrefixes([src]), exclude: [], onWarning: (w) => warnings.push(w) });
  const parts: Buffer[] = [];
  let grew = false;
  for await (const c of stream) {
    parts.push(c as Buffer);
    if (!grew) {
      grew = true;
      await writeFile(join(src, 'grows.txt'), 'y'.repeat(5 * 1024 * 1024));
    }
  }
  await done;
  assert.ok(warnings.some((w) => w.includes('changed while read')), warnings.join());
  const dst = await tempDir('dst');
  await extract(Buffer.concat(parts), dst);
  assert.equal((await readFile(join(dst, 'grows.txt'))).length, 3 * 1024 * 1024, 'exactly the announced size');
});

async function refused(entries: EntrySpec[], pattern: RegExp): Promise<string> {
  const dst = await tempDir('slip');
  const root = join(dst, 'root');
  await mkdir(root);
  await assert.rejects(extract(await buildTar(entries), root), (e: unknown) => e instanceof UnsafeEntryError && pattern.test(e.message));
  return dst;
}

test('tar-slip: absolute names, .. components, writes through symlinks and hard links out are refused', async () => {
  let dst = await refused([{ name: '/tmp/pf-evil', body: 'x' }], /absolute path/);
  assert.deepEqual(await readdir(dst), ['root']);
  dst = await refused([{ name: 'ok/../../escaped', body: 'x' }], /'\.\.'/);
  assert.deepEqual(await readdir(dst), ['root'], 'nothing written outside the root');
  await refused(
    [
      { name: 'door', type: 'symlink', linkname: '..' },
      { name: 'door/escaped', body: 'x' },
    ],
    /goes through the symlink door/
  );
  await refused([{ name: 'pw', type: 'link', linkname: '../../etc/passwd' }], /'\.\.'/);
  await refused([{ name: 'pw', type: 'link', linkname: 'not-in-archive' }], /not a file of this archive/);
});

test('symlinks pointing outside are refused unless allowed; inside links are fine', async () => {
  await refused([{ name: 'out', type: 'symlink', linkname: '/etc/passwd' }], /points outside/);
  await refused([{ name: 'a/out', type: 'symlink', linkname: '../../x' }], /points outside/);
  await refused(
    [
      { name: 'up', type: 'symlink', linkname: '..' },
      { name: 'chain', type: 'symlink', linkname: 'up/..' },
    ],
    /points outside/
  );
  const root = await tempDir('links');
  await extract(await buildTar([{ name: 'd/', type: 'directory' }, { name: 'd/in', type: 'symlink', linkname: '../d' }]), root);
  assert.equal(await readlink(join(root, 'd/in')), '../d');
  const allowed = await tempDir('links');
  await extract(await buildTar([{ name: 'out', type: 'symlink', linkname: '/etc/passwd' }]), allowed, true);
  assert.equal(await readlink(join(allowed, 'out')), '/etc/passwd');
});

test('an existing symlink in the staging root is never followed', async () => {
  const dst = await tempDir('pre');
  const outside = await tempDir('outside');
  await symlink(outside, join(dst, 'sneaky'));
  // The staging root is fresh in real restores; even so, O_NOFOLLOW refuses to write through a final symlink.
  await assert.rejects(extract(await buildTar([{ name: 'sneaky', body: 'x' }]), dst));
  assert.deepEqual(await readdir(outside), []);
});
