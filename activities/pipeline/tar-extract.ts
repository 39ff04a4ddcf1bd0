/**
 * Extracts a tar stream into a fresh staging folder, refusing anything that escapes it (tar-slip): absolute names,
 * `..`, writes through symlinks, hard links to outside files, and symlinks pointing outside (unless allowed).
 * Symlinks are created last, once every file is written, so no later entry can be written through one.
 *
 * File system calls are synchronous: a restore of many small files makes six calls per file (open, write, chown,
 * chmod, utimes, close), and a round trip through libuv's thread pool costs many times what the call itself costs
 * when it only touches the page cache. The event loop still gets a turn at least every SLICE_MS.
 */
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { extract as createExtract } from 'tar-stream';
import { parentsOf, resolveLinkInside, safeEntryPath, UnsafeEntryError } from './path-safety';
import { SLICE_MS } from './walk';

export interface ExtractOptions {
  /** Fresh, empty folder that receives the entries (with `layer`: holding the earlier levels of the same chain). */
  root: string;
  /**
   * Apply this archive over earlier levels extracted into `root` by this function: entries replace what is there
   * (folders merge). `links` must then carry the symlinks the earlier levels created (kept up to date here), so
   * that no path goes through one and chains of links are judged across levels.
   */
  layer?: boolean;
  links?: Map<string, string>;
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

function writeAll(fd: number, data: Buffer): void {
  for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
}

export async function extractTar(input: Readable, opts: ExtractOptions): Promise<ExtractResult> {
  const stats: ExtractStats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0 };
  const dirs = new Map<string, DirMeta>();
  const made = new Set<string>(['']);
  const files = new Set<string>();
  const links = opts.links ?? new Map<string, string>();
  /** With `layer`: removes what an earlier level left at `rel`; a folder is kept when `keepDir`. True if kept. */
  const clearEarlier = (rel: string, keepDir: boolean): boolean => {
    if (!opts.layer) return false;
    const path = join(opts.root, rel);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return false;
    }
    if (st.isDirectory() && keepDir) return true;
    // Never written through: a symlink is unlinked, not followed; a replaced folder goes with its content.
    rmSync(path, { recursive: true, force: true });
    links.delete(rel);
    return false;
  };
  const pendingLinks: { rel: string; linkname: string; mtime: Date; uid: number; gid: number }[] = [];

  const ensureParents = (rel: string): void => {
    for (const parent of parentsOf(rel)) {
      if (links.has(parent)) throw new UnsafeEntryError(rel, `path goes through the symlink ${parent}`);
      if (files.has(parent)) throw new UnsafeEntryError(rel, `path goes through the file ${parent}`);
      if (!made.has(parent)) {
        if (!clearEarlier(parent, true)) mkdirSync(join(opts.root, parent), { mode: 0o700 });
        made.add(parent);
      }
    }
  };
  const claim = (rel: string): void => {
    if (links.has(rel) || made.has(rel) || files.has(rel)) {
      // A later entry for the same name wins, as in tar; folders are merged.
      links.delete(rel);
      if (files.has(rel)) rmSync(join(opts.root, rel), { force: true });
      files.delete(rel);
    }
  };

  const extract = createExtract();
  const feeding = pipeline(input, extract as unknown as NodeJS.WritableStream, { signal: opts.signal });
  feeding.catch(() => undefined);
  try {
    let sliceEnd = performance.now() + SLICE_MS;
    for await (const entry of extract) {
      if (performance.now() > sliceEnd) {
        await nextTurn();
        sliceEnd = performance.now() + SLICE_MS;
      }
      opts.signal?.throwIfAborted();
      const h = entry.header;
      const rel = safeEntryPath(h.name);
      const mtime = h.mtime ?? new Date(0);
      switch (h.type) {
        case 'directory': {
          await opts.beforeEntry?.(rel, 'directory');
          ensureParents(rel);
          if (links.has(rel) || files.has(rel)) throw new UnsafeEntryError(rel, 'folder replaces an earlier entry');
          if (!made.has(rel)) {
            if (!clearEarlier(rel, true)) mkdirSync(join(opts.root, rel), { mode: 0o700 });
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
          ensureParents(rel);
          if (made.has(rel)) throw new UnsafeEntryError(rel, 'file replaces a folder');
          claim(rel);
          clearEarlier(rel, false); // also breaks a hard link an earlier level made: never write into its twin
          const fd = openSync(join(opts.root, rel), WRITE_FLAGS, 0o600);
          try {
            for await (const chunk of entry) {
              writeAll(fd, chunk as Buffer);
              stats.bytes += (chunk as Buffer).length;
            }
            // chown clears setuid/setgid, so the owner goes first and the mode after it.
            if (opts.restoreOwners) {
              try {
                fchownSync(fd, h.uid, h.gid);
              } catch {
                opts.onWarning?.(`cannot restore owner of ${rel}`);
              }
            }
            fchmodSync(fd, h.mode & 0o7777);
            futimesSync(fd, mtime, mtime);
          } finally {
            closeSync(fd);
          }
          files.add(rel);
          stats.files++;
          break;
        }
        case 'link': {
          await opts.beforeEntry?.(rel, 'link');
          const target = safeEntryPath(h.linkname ?? '');
          if (!files.has(target)) throw new UnsafeEntryError(rel, `hard link to ${target}, which is not a file of this archive`);
          ensureParents(rel);
          claim(rel);
          clearEarlier(rel, false);
          linkSync(join(opts.root, target), join(opts.root, rel));
          files.add(rel);
          stats.hardlinks++;
          entry.resume();
          break;
        }
        case 'symlink': {
          await opts.beforeEntry?.(rel, 'symlink');
          ensureParents(rel);
          if (made.has(rel)) throw new UnsafeEntryError(rel, 'symlink replaces a folder');
          claim(rel);
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
    clearEarlier(l.rel, false);
    links.set(l.rel, l.linkname);
    symlinkSync(l.linkname, path);
    if (opts.restoreOwners) {
      try {
        lchownSync(path, l.uid, l.gid);
      } catch {
        // as before: a symlink's owner is best effort
      }
    }
    lutimesSync(path, l.mtime, l.mtime);
    stats.symlinks++;
  }
  return { stats, dirs: [...dirs.values()] };
}
