/**
 * Extracts a tar stream into a fresh staging folder, refusing anything that escapes it (tar-slip): absolute names,
 * `..`, writes through symlinks, hard links to outside files, and symlinks pointing outside (unless allowed).
 * Symlinks are created last, once every file is written, so no later entry can be written through one.
 */
import { constants } from 'node:fs';
import { lchown, link, lutimes, mkdir, open, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as createExtract } from 'tar-stream';
import { parentsOf, resolveLinkInside, safeEntryPath, UnsafeEntryError } from './path-safety';

export interface ExtractOptions {
  /** Fresh, empty folder that receives the entries. */
  root: string;
  allowExternalSymlinks: boolean;
  /** Restore owners (only meaningful as root). */
  restoreOwners: boolean;
  signal?: AbortSignal;
  /** Called before an entry is written; may throw to stop (e.g. a conflict in the final target). */
  beforeEntry?: (rel: string, type: 'file' | 'directory' | 'symlink' | 'link') => Promise<void>;
  onProgress?: (stats: ExtractStats) => void;
  onWarning?: (message: string) => void;
}

export interface ExtractStats {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  bytes: number;
}

/** Mode and mtime of an archived folder, applied after everything inside it is in place. */
export interface DirMeta {
  rel: string;
  mode: number;
  mtime: Date;
  uid: number;
  gid: number;
}

export interface ExtractResult {
  stats: ExtractStats;
  dirs: DirMeta[];
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

export async function extractTar(input: Readable, opts: ExtractOptions): Promise<ExtractResult> {
  const stats: ExtractStats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0 };
  const dirs = new Map<string, DirMeta>();
  const made = new Set<string>(['']);
  const files = new Set<string>();
  const links = new Map<string, string>();
  const pendingLinks: { rel: string; linkname: string; mtime: Date; uid: number; gid: number }[] = [];

  const ensureParents = async (rel: string): Promise<void> => {
    for (const parent of parentsOf(rel)) {
      if (links.has(parent)) throw new UnsafeEntryError(rel, `path goes through the symlink ${parent}`);
      if (files.has(parent)) throw new UnsafeEntryError(rel, `path goes through the file ${parent}`);
      if (!made.has(parent)) {
        await mkdir(join(opts.root, parent), { mode: 0o700 });
        made.add(parent);
      }
    }
  };
  const claim = async (rel: string): Promise<void> => {
    if (links.has(rel) || made.has(rel) || files.has(rel)) {
      // A later entry for the same name wins, as in tar; folders are merged.
      links.delete(rel);
      if (files.has(rel)) await rm(join(opts.root, rel), { force: true });
      files.delete(rel);
    }
  };

  const extract = createExtract();
  const feeding = pipeline(input, extract as unknown as NodeJS.WritableStream, { signal: opts.signal });
  feeding.catch(() => undefined);
  try {
    for await (const entry of extract) {
      opts.signal?.throwIfAborted();
      const h = entry.header;
      const rel = safeEntryPath(h.name);
      const mtime = h.mtime ?? new Date(0);
      switch (h.type) {
        case 'directory': {
          await opts.beforeEntry?.(rel, 'directory');
          await ensureParents(rel);
          if (links.has(rel) || files.has(rel)) throw new UnsafeEntryError(rel, 'folder replaces an earlier entry');
          if (!made.has(rel)) {
            await mkdir(join(opts.root, rel), { mode: 0o700 });
            made.add(rel);
            stats.dirs++;
          }
          dirs.set(rel, { rel, mode: h.mode & 0o7777, mtime, uid: h.uid, gid: h.gid });
          entry.resume();
          break;
        }
        case 'file':
        case 'contiguous-file': {
          await opts.beforeEntry?.(rel, 'file');
          await ensureParents(rel);
          if (made.has(rel)) throw new UnsafeEntryError(rel, 'file replaces a folder');
          await claim(rel);
          const fh = await open(join(opts.root, rel), WRITE_FLAGS, 0o600);
          try {
            for await (const chunk of entry) {
              await fh.write(chunk as Buffer);
              stats.bytes += (chunk as Buffer).length;
            }
            // chown clears setuid/setgid, so the owner goes first and the mode after it.
            if (opts.restoreOwners) await fh.chown(h.uid, h.gid).catch(() => opts.onWarning?.(`cannot restore owner of ${rel}`));
            await fh.chmod(h.mode & 0o7777);
            await fh.utimes(mtime, mtime);
          } finally {
            await fh.close();
          }
          files.add(rel);
          stats.files++;
          break;
        }
        case 'link': {
          await opts.beforeEntry?.(rel, 'link');
          const target = safeEntryPath(h.linkname ?? '');
          if (!files.has(target)) throw new UnsafeEntryError(rel, `hard link to ${target}, which is not a file of this archive`);
          await ensureParents(rel);
          await claim(rel);
          await link(join(opts.root, target), join(opts.root, rel));
          files.add(rel);
          stats.hardlinks++;
          entry.resume();
          break;
        }
        case 'symlink': {
          await opts.beforeEntry?.(rel, 'symlink');
          await ensureParents(rel);
          if (made.has(rel)) throw new UnsafeEntryError(rel, 'symlink replaces a folder');
          await claim(rel);
          const linkname = h.linkname ?? '';
          if (linkname === '') throw new UnsafeEntryError(rel, 'symlink without a target');
          links.set(rel, linkname);
          pendingLinks.push({ rel, linkname, mtime, uid: h.uid, gid: h.gid });
          entry.resume();
          break;
        }
        default:
          opts.onWarning?.(`skipped ${h.type} entry ${rel}`);
          entry.resume();
      }
      opts.onProgress?.(stats);
    }
    await feeding;
  } catch (err) {
    extract.destroy();
    await feeding.catch(() => undefined);
    throw err;
  }

  // Every symlink is now known, so chains of links can be resolved before any is created.
  for (const l of pendingLinks) {
    if (links.get(l.rel) !== l.linkname) continue; // replaced by a later entry
    if (!opts.allowExternalSymlinks && resolveLinkInside(l.rel, l.linkname, links) === undefined) {
      throw new UnsafeEntryError(l.rel, `symlink points outside the restore target (${l.linkname})`);
    }
    const path = join(opts.root, l.rel);
    await symlink(l.linkname, path);
    if (opts.restoreOwners) {
      await lchown(path, l.uid, l.gid).catch(() => undefined);
    }
    await lutimes(path, l.mtime, l.mtime);
    stats.symlinks++;
  }
  return { stats, dirs: [...dirs.values()] };
}
