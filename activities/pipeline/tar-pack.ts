/**
 * Streams one or more source trees as a tar archive (tar-stream). Regular files, directories, symlinks and hard links,
 * with modes, owners and mtimes. Unreadable or vanished entries become warnings, not failures; a file that changes
 * while it is read is stored with exactly the size its header announced (zero-padded if it shrank) and reported.
 */
import { constants } from 'node:fs';
import { open, readlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { Readable } from 'node:stream';
import { pack as createPack } from 'tar-stream';
import type { Header, Pack } from 'tar-stream';
import { walkSources } from './walk';
import type { PackSource } from './walk';

type Headers = Partial<Header> & Pick<Header, 'name'>;

export interface PackStats {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  bytes: number;
}

export interface PackOptions {
  sources: readonly PackSource[];
  exclude: readonly string[];
  signal?: AbortSignal;
  onProgress?: (stats: PackStats) => void;
  onWarning?: (message: string) => void;
}

const CHUNK = 1024 * 1024;

function headerBase(name: string, st: Stats): Headers {
  const header: Headers = {
    name,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtime: st.mtime,
  };
  // ustar clamps ids above 262143; pax keeps them exact.
  if (st.uid > 0o777777 || st.gid > 0o777777) header.pax = { uid: String(st.uid), gid: String(st.gid) };
  return header;
}

class Packer {
  readonly stats: PackStats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0 };
  private readonly links = new Map<string, string>();

  constructor(
    private readonly pack: Pack,
    private readonly opts: PackOptions
  ) {}

  private warn(message: string): void {
    this.opts.onWarning?.(message);
  }

  private entry(header: Headers, body?: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (body) this.pack.entry(header, body, done);
      else this.pack.entry(header, done);
    });
  }

  async run(): Promise<void> {
    const entries = walkSources(this.opts.sources, { exclude: this.opts.exclude, signal: this.opts.signal, onWarning: (m) => this.warn(m) });
    for await (const { path, name, st } of entries) await this.add(path, name, st);
  }

  private async add(path: string, name: string, st: Stats): Promise<void> {
    if (st.isDirectory()) {
      await this.entry({ ...headerBase(`${name}/`, st), type: 'directory' });
      this.stats.dirs++;
    } else if (st.isSymbolicLink()) {
      let linkname: string;
      try {
        linkname = await readlink(path);
      } catch (err) {
        this.warn(`cannot read symlink ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        return;
      }
      await this.entry({ ...headerBase(name, st), type: 'symlink', linkname });
      this.stats.symlinks++;
    } else if (st.isFile()) {
      const id = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? this.links.get(id) : undefined;
      if (first !== undefined) {
        await this.entry({ ...headerBase(name, st), type: 'link', linkname: first, size: 0 });
        this.stats.hardlinks++;
        return;
      }
      if (await this.addFile(path, name)) {
        if (st.nlink > 1) this.links.set(id, name);
      }
    } else {
      this.warn(`skipped special file (socket, fifo or device): ${path}`);
    }
    this.opts.onProgress?.(this.stats);
  }

  /** Streams exactly the size in the header; returns false when the file could not be opened. */
  private async addFile(path: string, name: string): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.warn(code === 'ENOENT' ? `vanished before it was read: ${path}` : `cannot read ${path}: ${code ?? String(err)}`);
      return false;
    }
    try {
      const st = await fh.stat();
      const size = st.size;
      const entry = this.pack.entry({ ...headerBase(name, st), type: 'file', size });
      const written = new Promise<void>((resolve, reject) => {
        entry.once('error', reject);
        entry.once('finish', () => resolve());
      });
      written.catch(() => undefined); // awaited below; an abort may reject it before that
      let position = 0;
      let shrank = false;
      while (position < size) {
        this.opts.signal?.throwIfAborted();
        const want = Math.min(CHUNK, size - position);
        let chunk = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(chunk, 0, want, position);
        if (bytesRead === 0) {
          shrank = true;
          chunk = Buffer.alloc(size - position);
        } else if (bytesRead < want) {
          chunk = chunk.subarray(0, bytesRead);
        }
        position += chunk.length;
        this.stats.bytes += chunk.length;
        this.opts.onProgress?.(this.stats);
        if (!entry.write(chunk)) await new Promise<void>((resolve) => entry.once('drain', () => resolve()));
      }
      entry.end(undefined);
      await written;
      this.stats.files++;
      const after = await fh.stat();
      if (shrank) this.warn(`changed while read (shrank; zero-padded to ${size} bytes): ${path}`);
      else if (after.size !== size || after.mtimeMs !== st.mtimeMs) this.warn(`changed while read: ${path}`);
      return true;
    } finally {
      await fh.close();
    }
  }
}

/** The archive as a Node stream, and a promise of the final counts once every entry has been written. */
export function packSources(opts: PackOptions): { stream: Readable; done: Promise<PackStats> } {
  const pack = createPack();
  const packer = new Packer(pack, opts);
  const done = packer.run().then(
    () => {
      pack.finalize();
      return packer.stats;
    },
    (err: unknown) => {
      pack.destroy(err as Error);
      throw err;
    }
  );
  done.catch(() => undefined);
  const stream = Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
  return { stream, done };
}
