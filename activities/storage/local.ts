/** Local-directory storage: atomic writes (temp file, fsync, rename, fsync of the directory). */
import { mkdir, open, opendir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { addAbortSignal } from 'node:stream';
import type { Readable } from 'node:stream';
import type { ListOptions, OpOptions, StorageDriver, StorageObject } from './driver';
import { assertValidKey, StorageError } from './driver';

/** Suffix of in-flight writes; never listed, removed on failure. */
export const TEMP_MARK = '.pf-tmp-';

function classify(err: unknown, key: string): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') throw new StorageError('NotFound', `no object ${key}`, true, { cause: err });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    throw new StorageError('AccessDenied', `cannot access ${key}: ${code}`, true, { cause: err });
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') throw new StorageError('Unavailable', `storage full writing ${key}`, false, { cause: err });
  throw err;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class LocalStorage implements StorageDriver {
  constructor(readonly root: string) {}

  get description(): string {
    return `local:${this.root}`;
  }

  private path(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split('/'));
  }

  /** Temp names (`x.pf-tmp-…`) fail key validation on purpose; only listing hands them out, for removal. */
  private tempAwarePath(key: string): string {
    const mark = key.lastIndexOf(TEMP_MARK);
    if (mark < 0) return this.path(key);
    const suffix = key.slice(mark + TEMP_MARK.length);
    if (!/^[0-9a-f]{1,64}$/.test(suffix)) throw new StorageError('InvalidKey', `invalid storage key ${JSON.stringify(key)}`);
    return `${this.path(key.slice(0, mark))}${TEMP_MARK}${suffix}`;
  }

  async put(key: string, data: Buffer, opts: OpOptions = {}): Promise<void> {
    const final = this.path(key);
    const temp = `${final}${TEMP_MARK}${randomBytes(6).toString('hex')}`;
    try {
      await mkdir(dirname(final), { recursive: true });
      const fh = await open(temp, 'wx', 0o600);
      try {
        await fh.writeFile(data, { signal: opts.signal });
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, final);
      await fsyncDir(dirname(final));
    } catch (err) {
      await rm(temp, { force: true });
      if ((err as Error).name === 'AbortError') throw err;
      classify(err, key);
    }
  }

  async get(key: string, opts: OpOptions = {}): Promise<Readable> {
    const path = this.path(key);
    try {
      const fh = await open(path, 'r');
      const stream = fh.createReadStream({ highWaterMark: 1024 * 1024 });
      return opts.signal ? addAbortSignal(opts.signal, stream) : stream;
    } catch (err) {
      classify(err, key);
    }
  }

  async stat(key: string): Promise<StorageObject | undefined> {
    try {
      const st = await stat(this.path(key));
      return st.isFile() ? { key, size: st.size } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      classify(err, key);
    }
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<StorageObject> {
    // Walk only the directory that can hold the prefix, in sorted order.
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    yield* this.walk(base, prefix, opts);
  }

  private async *walk(dirKey: string, prefix: string, opts: ListOptions): AsyncIterable<StorageObject> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const dirPath = dirKey === '' ? this.root : this.path(dirKey);
    let names: { name: string; dir: boolean; file: boolean }[] = [];
    try {
      const dir = await opendir(dirPath);
      for await (const d of dir) names.push({ name: d.name, dir: d.isDirectory(), file: d.isFile() });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      classify(err, dirKey);
    }
    // Key order: a folder sorts as `name/`, so `a.x` comes before `a/…` as their keys do.
    const sortKey = (e: { name: string; dir: boolean }): string => (e.dir ? `${e.name}/` : e.name);
    names = names.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
    for (const entry of names) {
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.dir) {
        if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) yield* this.walk(key, prefix, opts);
      } else if (entry.file && key.startsWith(prefix)) {
        const temporary = entry.name.includes(TEMP_MARK);
        if (temporary && !opts.includeTemporary) continue;
        const st = await stat(join(dirPath, entry.name)).catch(() => undefined);
        if (st) yield temporary ? { key, size: st.size, temporary } : { key, size: st.size };
      }
    }
  }

  async remove(key: string): Promise<void> {
    const path = this.tempAwarePath(key);
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      classify(err, key);
    }
    await this.pruneEmptyDirs(dirname(path));
  }

  /** Removes directories emptied by `remove`, up to the root, so deleted backups leave no folders behind. */
  private async pruneEmptyDirs(dir: string): Promise<void> {
    while (dir.startsWith(this.root) && dir !== this.root) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
      dir = dirname(dir);
    }
  }

  async close(): Promise<void> {}
}
