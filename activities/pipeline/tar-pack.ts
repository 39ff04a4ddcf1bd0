/**
 * Streams one or more source trees as a tar archive. Regular files, directories, symlinks and hard links, with
 * modes, owners and mtimes. Unreadable or vanished entries become warnings, not failures; a file that changes while
 * it is read is stored with exactly the size its header announced (zero-padded if it shrank) and reported.
 *
 * Built for trees of many small files: the archive is assembled in fixed-size chunks, each file read straight into
 * the chunk with synchronous calls (open, fstat, read, fstat, close). A round trip through libuv's thread pool costs
 * tens of microseconds per call, many times the call itself when the data is cached, and five of them per file made
 * the packer, not the compressor, the bottleneck. The work is done in slices: a slice ends when the stream is full
 * or after SLICE_MS, and the event loop gets a turn between slices (heartbeats, cancellation, the compressor's pipes).
 */
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { Readable } from 'node:stream';
import { BLOCK, encodeHeader, paddedSize } from './tar-header';
import type { TarHeader } from './tar-header';
import { changed, indexEntry } from '../file-index';
import type { IndexEntry } from '../file-index';
import { SLICE_MS, walkSourcesSync } from './walk';
import type { PackSource, WalkEntry } from './walk';

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
  /** Called after each slice of work (at least every CHUNK bytes of file data, and at the end). */
  onProgress?: (stats: PackStats) => void;
  onWarning?: (message: string) => void;
  /** The parent's index, for an incremental level: files and symlinks unchanged against it are not stored. */
  base?: ReadonlyMap<string, IndexEntry>;
  /** Receives the index of this backup: every entry walked, with the version of it that a restore will see. */
  index?: Map<string, IndexEntry>;
}

/** Bytes per pushed chunk; also the largest single read. A multiple of BLOCK. */
const CHUNK = 256 * 1024;
/** What the stream buffers before the packer pauses: two chunks. */
const HIGH_WATER_MARK = 2 * CHUNK;
const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

function headerBase(name: string, st: Stats): Omit<TarHeader, 'type' | 'size'> {
  const header: Omit<TarHeader, 'type' | 'size'> = {
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

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

/**
 * Produces the archive bytes: `steps()` is a generator that fills a chunk and yields each full one, and `undefined`
 * after each entry, so that a slice of work can end between entries.
 */
class Archiver {
  readonly stats: PackStats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0 };
  private readonly links = new Map<string, string>();
  /** The chunk being filled: bytes before `used` are archive data not yet handed out. */
  private chunk = Buffer.allocUnsafe(CHUNK);
  private used = 0;

  constructor(private readonly opts: PackOptions) {}

  private warn(message: string): void {
    this.opts.onWarning?.(message);
  }

  *steps(): Generator<Buffer | undefined, void> {
    for (const entry of walkSourcesSync(this.opts.sources, { exclude: this.opts.exclude, signal: this.opts.signal, onWarning: (m) => this.warn(m) })) {
      yield* this.add(entry);
      yield undefined;
    }
    yield* this.append(END_OF_ARCHIVE);
    if (this.used > 0) yield this.take();
  }

  /** The filled part of the chunk, to push; filling goes on in a fresh chunk. */
  private take(): Buffer {
    const full = this.chunk.subarray(0, this.used);
    this.chunk = Buffer.allocUnsafe(CHUNK);
    this.used = 0;
    return full;
  }

  /** Copies `bytes` into the archive. */
  private *append(bytes: Buffer): Generator<Buffer, void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.used === CHUNK) yield this.take();
      const n = bytes.copy(this.chunk, this.used, offset);
      this.used += n;
      offset += n;
    }
  }

  /** `n` zero bytes (padding, or the rest of a file that shrank). */
  private *zeros(n: number): Generator<Buffer, void> {
    while (n > 0) {
      if (this.used === CHUNK) yield this.take();
      const k = Math.min(n, CHUNK - this.used);
      this.chunk.fill(0, this.used, this.used + k);
      this.used += k;
      n -= k;
    }
  }

  /** Records `name` in this backup's index: as walked, or, when it could not be stored, as its parent had it. */
  private record(name: string, entry: IndexEntry | undefined, stored: boolean): void {
    const index = this.opts.index;
    if (!index) return;
    const version = stored ? entry : this.opts.base?.get(name);
    if (version) index.set(name, version);
  }

  private *add({ path, name, st }: WalkEntry): Generator<Buffer, void> {
    let linkname: string | undefined;
    if (st.isSymbolicLink()) {
      try {
        linkname = readlinkSync(path);
      } catch (err) {
        this.warn(`cannot read symlink ${path}: ${errCode(err)}`);
        this.record(name, undefined, false);
        return;
      }
    }
    const entry = indexEntry(st, linkname);
    // An incremental level stores only what changed since its parent (folders always: they are cheap headers).
    if (entry && entry.t !== 'd' && this.opts.base && !changed(this.opts.base.get(name), entry)) {
      this.record(name, entry, true);
      return;
    }
    if (st.isDirectory()) {
      yield* this.append(encodeHeader({ ...headerBase(`${name}/`, st), type: 'directory', size: 0 }));
      this.stats.dirs++;
      this.record(name, entry, true);
    } else if (linkname !== undefined) {
      yield* this.append(encodeHeader({ ...headerBase(name, st), type: 'symlink', linkname, size: 0 }));
      this.stats.symlinks++;
      this.record(name, entry, true);
    } else if (st.isFile()) {
      const id = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? this.links.get(id) : undefined;
      if (first !== undefined) {
        yield* this.append(encodeHeader({ ...headerBase(name, st), type: 'link', linkname: first, size: 0 }));
        this.stats.hardlinks++;
        this.record(name, entry, true);
        return;
      }
      const stored = yield* this.file(path, name);
      if (stored && st.nlink > 1) this.links.set(id, name);
      this.record(name, entry, stored);
    } else {
      this.warn(`skipped special file (socket, fifo or device): ${path}`);
    }
  }

  /** Stores exactly the size in the header; returns false when the file could not be opened. */
  private *file(path: string, name: string): Generator<Buffer, boolean> {
    let fd: number;
    try {
      // O_NONBLOCK: a fifo swapped in since the walk must not block the (synchronous) open; no effect on files.
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = errCode(err);
      this.warn(code === 'ENOENT' ? `vanished before it was read: ${path}` : `cannot read ${path}: ${code}`);
      return false;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) {
        this.warn(`skipped special file (socket, fifo or device): ${path}`);
        return false;
      }
      const size = st.size;
      yield* this.append(encodeHeader({ ...headerBase(name, st), type: 'file', size }));
      let position = 0;
      let shrank = false;
      while (position < size) {
        this.opts.signal?.throwIfAborted();
        if (this.used === CHUNK) yield this.take();
        const bytesRead = readSync(fd, this.chunk, this.used, Math.min(CHUNK - this.used, size - position), position);
        if (bytesRead === 0) {
          shrank = true;
          this.stats.bytes += size - position;
          yield* this.zeros(size - position);
          break;
        }
        this.used += bytesRead;
        position += bytesRead;
        this.stats.bytes += bytesRead;
      }
      yield* this.zeros(paddedSize(size) - size);
      this.stats.files++;
      const after = fstatSync(fd);
      if (shrank) this.warn(`changed while read (shrank; zero-padded to ${size} bytes): ${path}`);
      else if (after.size !== size || after.mtimeMs !== st.mtimeMs) this.warn(`changed while read: ${path}`);
      return true;
    } finally {
      closeSync(fd);
    }
  }
}

/** The archive as a Node stream, and a promise of the final counts once every entry has been written. */
export function packSources(opts: PackOptions): { stream: Readable; done: Promise<PackStats> } {
  const archiver = new Archiver(opts);
  const steps = archiver.steps();
  let settle!: (err: Error | undefined) => void;
  const done = new Promise<PackStats>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve(archiver.stats));
  });
  done.catch(() => undefined); // the caller awaits it after the stream, or not at all when that failed

  /** A slice is scheduled with setImmediate; `read` must not start another one meanwhile. */
  let scheduled = false;
  /** Runs the archiver until the stream is full, the archive ends, or the slice is used up. */
  const slice = (): void => {
    scheduled = false;
    if (stream.destroyed) return;
    const end = performance.now() + SLICE_MS;
    try {
      for (;;) {
        const step = steps.next();
        if (step.done) {
          opts.onProgress?.(archiver.stats);
          settle(undefined);
          stream.push(null);
          return;
        }
        if (step.value && !stream.push(step.value)) break;
        if (performance.now() > end) {
          scheduled = true;
          setImmediate(slice);
          break;
        }
      }
      opts.onProgress?.(archiver.stats);
    } catch (err) {
      stream.destroy(err as Error);
    }
  };

  const stream = new Readable({
    highWaterMark: HIGH_WATER_MARK,
    read() {
      if (!scheduled) slice();
    },
    destroy(err, cb) {
      try {
        steps.return(); // closes the file being read, if any
      } catch {
        // destroyed from inside a step (a warning callback): the generator is never resumed
      }
      settle(err ?? new Error('tar stream destroyed before the end of the archive'));
      cb(err);
    },
  });
  return { stream, done };
}
