/** Generated source trees and byte-for-byte comparison of two trees. */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `pf-${label}-`));
}

/** Writes `size` bytes of seeded pseudo-random data without holding it all in memory. */
export async function writeRandomFile(path: string, size: number, seed = 'permafrost'): Promise<void> {
  const fh = await open(path, 'w');
  try {
    let counter = 0;
    let written = 0;
    while (written < size) {
      // sha256 chain: fast enough, reproducible, incompressible.
      const block = Buffer.alloc(Math.min(1024 * 1024, size - written));
      for (let off = 0; off < block.length; off += 32) {
        createHash('sha256').update(`${seed}:${counter++}`).digest().copy(block, off);
      }
      await fh.write(block);
      written += block.length;
    }
  } finally {
    await fh.close();
  }
}

export interface TreeOptions {
  bigFileBytes?: number;
}

/**
 * Nested folders, empty files and folders, a big file, relative symlinks (to a file, a folder, a dangling name),
 * a hard link, unicode names, unusual modes and set mtimes.
 */
export async function generateTree(root: string, opts: TreeOptions = {}): Promise<void> {
  await mkdir(join(root, 'deep/er/and/deeper'), { recursive: true });
  await mkdir(join(root, 'empty-folder'));
  await mkdir(join(root, 'ünïcødé 文件夹'));
  await writeFile(join(root, 'empty.txt'), '');
  await writeFile(join(root, 'deep/er/and/deeper/leaf.txt'), 'leaf\n');
  await writeFile(join(root, 'ünïcødé 文件夹/файл ☃.txt'), 'snow\n');
  await writeFile(join(root, 'script.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(root, 'script.sh'), 0o755);
  await writeFile(join(root, 'secret.key'), randomBytes(64));
  await chmod(join(root, 'secret.key'), 0o600);
  await writeFile(join(root, 'readonly.txt'), 'read only\n');
  await chmod(join(root, 'readonly.txt'), 0o444);
  await writeFile(join(root, 'sticky-setgid'), 'x');
  await chmod(join(root, 'sticky-setgid'), 0o2750);
  await mkdir(join(root, 'private'), { mode: 0o700 });
  await writeFile(join(root, 'private/notes.md'), '# notes\n'.repeat(1000));
  await writeFile(join(root, `${'long-name-'.repeat(12)}.txt`), 'long name\n');
  await symlink('deep/er/and/deeper/leaf.txt', join(root, 'link-to-leaf'));
  await symlink('deep/er', join(root, 'link-to-folder'));
  await symlink('does-not-exist', join(root, 'dangling-link'));
  await link(join(root, 'private/notes.md'), join(root, 'hardlink-to-notes.md'));
  for (let i = 0; i < 50; i++) await writeFile(join(root, 'deep', `small-${i}.txt`), `file ${i}\n`.repeat(i));
  if (opts.bigFileBytes) await writeRandomFile(join(root, 'big.bin'), opts.bigFileBytes);
  const when = new Date('2024-02-29T12:34:56Z');
  await utimes(join(root, 'deep/er/and/deeper/leaf.txt'), when, when);
  await utimes(join(root, 'deep/er'), when, when);
}

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  size: number;
  mtime: number;
  sha256?: string;
  link?: string;
}

/** path -> entry for everything under `root` (not following symlinks). */
export async function snapshotTree(root: string, ignore: (rel: string) => boolean = () => false): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (ignore(childRel)) continue;
      const p = join(root, childRel);
      const st = await lstat(p);
      const base = { mode: st.mode & 0o7777, size: st.size, mtime: Math.floor(st.mtimeMs / 1000) };
      if (st.isDirectory()) {
        out.set(childRel, { type: 'dir', ...base, size: 0 });
        await walk(childRel);
      } else if (st.isSymbolicLink()) {
        out.set(childRel, { type: 'symlink', ...base, mode: 0, link: await readlink(p) });
      } else if (st.isFile()) {
        out.set(childRel, { type: 'file', ...base, sha256: createHash('sha256').update(await readFile(p)).digest('hex') });
      } else out.set(childRel, { type: 'other', ...base });
    }
  };
  await walk('');
  return out;
}

/** Human-readable differences between two trees; empty when they are identical. */
export async function diffTrees(a: string, b: string, ignore?: (rel: string) => boolean): Promise<string[]> {
  const [ta, tb] = await Promise.all([snapshotTree(a, ignore), snapshotTree(b, ignore)]);
  const diffs: string[] = [];
  for (const [rel, ea] of ta) {
    const eb = tb.get(rel);
    if (!eb) diffs.push(`missing: ${rel}`);
    else if (JSON.stringify(ea) !== JSON.stringify(eb)) diffs.push(`differs: ${rel} ${JSON.stringify(ea)} vs ${JSON.stringify(eb)}`);
  }
  for (const rel of tb.keys()) if (!ta.has(rel)) diffs.push(`extra: ${rel}`);
  return diffs;
}

/** Every file below `root`, for "nothing left behind" checks. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(join(root, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(root, childRel)).catch(() => undefined); // may vanish while a run writes
      if (st?.isDirectory()) await walk(childRel);
      else if (st) out.push(childRel);
    }
  };
  await walk('');
  return out.sort();
}
