/**
 * SSH/SFTP storage (ssh2): a folder on an SFTP server. One connection per driver, opened on first use and reused
 * (reopened after a drop); close() ends it.
 *
 * - Host keys are verified against a known_hosts file (known-hosts.ts): the presented key blob must equal a recorded
 *   one, and only the key types recorded for the host are offered. An unknown host, a mismatch, a revoked key or an
 *   unreadable file refuse the connection. There is no accept-any.
 * - Auth: the target's identityFile (read on this node; its content is never logged or returned), else the
 *   ssh-agent at SSH_AUTH_SOCK, else a permanent error.
 * - put is atomic: `<name>.pf-tmp-<rand>`, fsync (fsync@openssh.com when offered), posix-rename@openssh.com over the
 *   final name (fallback: unlink + rename, which has a short window without the object).
 * - Every path is `<root>/<validated key>`: keys cannot leave the root (symlinks on the server are the server's).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { posix } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { Client } from 'ssh2';
import type { ConnectConfig, FileEntryWithStats, ServerHostKeyAlgorithm, SFTPWrapper, Stats } from 'ssh2';
import type { SshStorageTarget } from '../../workflows/shared/types';
import type { ListOptions, OpOptions, StorageDriver, StorageObject } from './driver';
import { assertValidKey, StorageError } from './driver';
import type { HostKeyVerdict } from './known-hosts';
import { checkHostKey, hostKeyAlgorithms, knownHostName, KnownHostsError, loadHostKeys } from './known-hosts';
import { TEMP_MARK } from './local';

/** SFTP status codes (draft-ietf-secsh-filexfer-02, what OpenSSH speaks). */
const SFTP = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, NO_CONNECTION: 6, CONNECTION_LOST: 7, OP_UNSUPPORTED: 8 };

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

/** Bytes per read/write request and requests kept in flight: latency matters more than bandwidth on WAN links. */
const IO_CHUNK = 128 * 1024;
const IO_WINDOW = 16;
/** How long an aborted put may take to remove its temp file before the connection is dropped instead. */
const ABORT_CLEANUP_MS = 5_000;

export interface SshStorageOptions {
  /** Environment for SSH_AUTH_SOCK (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** TCP connect + SSH handshake + auth (default 20 s). */
  readyTimeoutMs?: number;
}

function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

/** Rejects as soon as `signal` aborts; the abandoned request still completes (or fails) on its own. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      }
    );
  });
}

/** A live SSH connection with its SFTP channel; every request fails fast once either is gone. */
class Session {
  alive = true;
  private readonly onDead: (() => void)[] = [];

  constructor(
    readonly client: Client,
    readonly sftp: SFTPWrapper,
    private readonly where: string
  ) {}

  markDead(): void {
    if (!this.alive) return;
    this.alive = false;
    for (const fn of this.onDead.splice(0)) fn();
  }

  whenDead(fn: () => void): void {
    if (this.alive) this.onDead.push(fn);
    else fn();
  }

  /** One SFTP request as a promise. ssh2 never answers a request sent on a closed channel, so check first. */
  call<T>(fn: (sftp: SFTPWrapper, cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
    if (!this.alive) return Promise.reject(new StorageError('Unavailable', `${this.where}: connection lost`, false));
    return new Promise<T>((resolve, reject) => {
      fn(this.sftp, (err, value) => (err ? reject(err) : resolve(value)));
    });
  }

  /** An OpenSSH extension request; resolves false when the server does not offer it (ssh2 throws synchronously). */
  ext(fn: (sftp: SFTPWrapper, cb: (err: Error | undefined | null) => void) => void): Promise<boolean> {
    if (!this.alive) return Promise.reject(new StorageError('Unavailable', `${this.where}: connection lost`, false));
    return new Promise<boolean>((resolve, reject) => {
      try {
        fn(this.sftp, (err) => (err ? reject(err) : resolve(true)));
      } catch {
        resolve(false);
      }
    });
  }

  read(handle: Buffer, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
    return this.call<number>((s, cb) => s.read(handle, buf, off, len, pos, (err, n) => cb(err, n)));
  }

  /** Fills `len` bytes from `pos` (SFTP may answer short); a shorter buffer means end of file. */
  async readFully(handle: Buffer, pos: number, len: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = await this.read(handle, buf, got, len - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    return got === len ? buf : buf.subarray(0, got);
  }

  /** Writes all of `data` with up to IO_WINDOW requests in flight; stops issuing requests once `signal` aborts. */
  writeAll(handle: Buffer, data: Buffer, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let next = 0;
      let inFlight = 0;
      let failed = false;
      const fail = (err: Error): void => {
        if (failed) return;
        failed = true;
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      };
      const onAbort = (): void => fail(abortError(signal!));
      const pump = (): void => {
        if (failed) return;
        if (signal?.aborted) return onAbort();
        while (inFlight < IO_WINDOW && next < data.length) {
          const off = next;
          const len = Math.min(IO_CHUNK, data.length - off);
          next += len;
          inFlight++;
          this.call<void>((s, cb) => s.write(handle, data, off, len, off, (err) => cb(err, undefined))).then(
            () => {
              inFlight--;
              pump();
            },
            (err: Error) => fail(err)
          );
        }
        if (inFlight === 0 && next >= data.length) {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      pump();
    });
  }
}

/** Pipelined reads of one open file: IO_WINDOW chunk reads in flight, delivered in order. Closes the handle. */
class SftpReadStream extends Readable {
  private next = 0;
  private queue: Promise<Buffer>[] = [];

  constructor(
    private readonly session: Session,
    private readonly handle: Buffer,
    private readonly size: number,
    private readonly classify: (err: unknown) => Error
  ) {
    super({ highWaterMark: 2 * IO_CHUNK });
  }

  private fill(): void {
    while (this.queue.length < IO_WINDOW && this.next < this.size) {
      const len = Math.min(IO_CHUNK, this.size - this.next);
      const p = this.session.readFully(this.handle, this.next, len);
      p.catch(() => undefined); // observed when dequeued
      this.queue.push(p);
      this.next += len;
    }
  }

  override _read(): void {
    this.fill();
    const head = this.queue.shift();
    if (!head) {
      this.push(null);
      return;
    }
    head.then(
      (chunk) => {
        if (!this.destroyed) this.push(chunk.length > 0 ? chunk : null); // shorter than its stat: ends early
      },
      (err: unknown) => this.destroy(this.classify(err))
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.next = this.size;
    this.queue = [];
    this.session.call<void>((s, done) => s.close(this.handle, (e) => done(e, undefined))).catch(() => undefined);
    cb(err);
  }
}

export class SshStorage implements StorageDriver {
  readonly root: string;
  readonly description: string;
  private readonly knownHostsFile: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly readyTimeoutMs: number;
  /** SSH connections opened so far (one, unless a connection dropped or close() was called in between). */
  connectionsOpened = 0;
  private connecting?: Promise<Session>;
  /** Clients not yet closed, including one still connecting, so close() can end them. */
  private readonly clients = new Set<Client>();

  constructor(
    readonly target: SshStorageTarget,
    opts: SshStorageOptions = {}
  ) {
    const { host, port, user, path } = target;
    if (!path.startsWith('/') || path.split('/').includes('..') || path.includes('\0')) {
      throw new StorageError('InvalidKey', `ssh storage root must be an absolute path without '..': ${JSON.stringify(path)}`);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StorageError('InvalidKey', `ssh storage port ${port} is out of range`);
    if (host === '' || user === '') throw new StorageError('InvalidKey', 'ssh storage needs a host and a user');
    this.root = posix.normalize(path).replace(/\/+$/, '') || '/';
    this.description = `ssh://${user}@${host.includes(':') ? `[${host}]` : host}:${port}${this.root}`;
    this.knownHostsFile = target.knownHostsFile ?? posix.join(homedir(), '.ssh', 'known_hosts');
    this.env = opts.env ?? process.env;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  }

  private path(key: string): string {
    assertValidKey(key);
    return this.root === '/' ? `/${key}` : `${this.root}/${key}`;
  }

  /** Temp names (`x.pf-tmp-<hex>`) come only from listings, for removal; the suffix may not carry a path. */
  private tempAwarePath(key: string): string {
    const mark = key.lastIndexOf(TEMP_MARK);
    const suffix = key.slice(mark + TEMP_MARK.length);
    if (mark > 0 && /^[A-Za-z0-9]+$/.test(suffix)) return `${this.path(key.slice(0, mark))}${TEMP_MARK}${suffix}`;
    return this.path(key);
  }

  /** SFTP status -> StorageError; anything without a status (connection gone, no response) is Unavailable. */
  private classify(err: unknown, key: string): Error {
    if (err instanceof StorageError || (err as Error | undefined)?.name === 'AbortError') return err as Error;
    const message = (err as Error | undefined)?.message ?? String(err);
    switch (sftpCode(err)) {
      case SFTP.NO_SUCH_FILE:
        return new StorageError('NotFound', `no object ${key} in ${this.description}`, true, { cause: err });
      case SFTP.PERMISSION_DENIED:
        return new StorageError('AccessDenied', `cannot access ${key} in ${this.description}: permission denied`, true, { cause: err });
      case SFTP.BAD_MESSAGE:
        return new StorageError('InvalidKey', `${this.description} refused the name ${key}: ${message}`, true, { cause: err });
      case SFTP.OP_UNSUPPORTED:
        return new StorageError('Unavailable', `${this.description} does not support an operation on ${key}: ${message}`, true, { cause: err });
      case SFTP.FAILURE:
        // OpenSSH maps every errno it has no status for (ENOSPC, EDQUOT, EIO, …) to FAILURE.
        return new StorageError('Unavailable', `${this.description} failed on ${key} (disk full or I/O error?): ${message}`, false, { cause: err });
      default:
        return new StorageError('Unavailable', `${this.description}: ${message} (${key})`, false, { cause: err });
    }
  }

  // ---- connection ----

  private session(signal?: AbortSignal): Promise<Session> {
    let p = this.connecting;
    if (!p) {
      const current = this.connect();
      this.connecting = p = current;
      const forget = (): void => {
        if (this.connecting === current) this.connecting = undefined;
      };
      void current.then((s) => s.whenDead(forget), forget);
    }
    return abortable(p, signal);
  }

  private async credentials(): Promise<Pick<ConnectConfig, 'privateKey' | 'agent'>> {
    const { identityFile } = this.target;
    if (identityFile !== undefined) {
      try {
        return { privateKey: await readFile(identityFile) };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
        throw new StorageError('AccessDenied', `${this.description}: identity file ${identityFile} cannot be read on this node (${code})`, true);
      }
    }
    const agent = this.env.SSH_AUTH_SOCK;
    if (agent) return { agent };
    throw new StorageError(
      'AccessDenied',
      `${this.description}: no identity file in the storage target and no ssh-agent on this node (SSH_AUTH_SOCK is not set)`,
      true
    );
  }

  private async connect(): Promise<Session> {
    const { host, port, user, identityFile } = this.target;
    const auth = await this.credentials();
    let hostKeys;
    try {
      hostKeys = await loadHostKeys(this.knownHostsFile, host, port);
    } catch (err) {
      if (err instanceof KnownHostsError) throw new StorageError('AccessDenied', `${this.description}: ${err.message}`, true);
      throw err;
    }
    const name = knownHostName(host, port);
    const algorithms = hostKeyAlgorithms(hostKeys.keys) as ServerHostKeyAlgorithm[];
    const authBy = identityFile !== undefined ? `identity file ${identityFile}` : 'the ssh-agent';

    return new Promise<Session>((resolve, reject) => {
      const client = new Client();
      this.clients.add(client);
      this.connectionsOpened++;
      let verdict: HostKeyVerdict | undefined;
      let session: Session | undefined;
      let settled = false;
      const fail = (err: StorageError): void => {
        if (!settled) {
          settled = true;
          reject(err);
        }
        client.end();
      };
      const connectError = (err: Error & { level?: string }): StorageError => {
        if (verdict && !verdict.ok) {
          const presented = `${verdict.presented.type} ${verdict.presented.fingerprint}`;
          return verdict.reason === 'revoked'
            ? new StorageError('AccessDenied', `${this.description}: the host key of ${name} (${presented}) is marked @revoked in known_hosts ${this.knownHostsFile}`, true)
            : new StorageError(
                'AccessDenied',
                `${this.description}: the host key of ${name} did not match known_hosts ${this.knownHostsFile} (server presented ${presented}); refusing to connect`,
                true
              );
        }
        if (/no matching host key format/i.test(err.message)) {
          const types = [...new Set(hostKeys.keys.map((k) => k.type))].join(', ');
          return new StorageError(
            'AccessDenied',
            `${this.description}: the host key of ${name} did not match known_hosts ${this.knownHostsFile} (the server offers none of its recorded key types: ${types}); refusing to connect`,
            true
          );
        }
        switch (err.level) {
          case 'client-authentication':
            return new StorageError('AccessDenied', `${this.description}: authentication as ${user} with ${authBy} failed`, true, { cause: err });
          case 'agent':
            return new StorageError('AccessDenied', `${this.description}: the ssh-agent at SSH_AUTH_SOCK failed: ${err.message}`, true, { cause: err });
          case 'handshake':
            return new StorageError('Unavailable', `${this.description}: SSH handshake failed: ${err.message}`, true, { cause: err });
          default: // client-socket, client-timeout, client-dns, protocol
            return new StorageError('Unavailable', `${this.description}: cannot connect: ${err.message}`, false, { cause: err });
        }
      };

      client.on('error', (err: Error & { level?: string }) => {
        if (session) session.markDead();
        else fail(connectError(err));
      });
      client.on('close', () => {
        this.clients.delete(client);
        session?.markDead();
        fail(new StorageError('Unavailable', `${this.description}: connection closed during the SSH handshake`, false));
      });
      client.on('ready', () => {
        client.sftp((err, sftp) => {
          if (err) {
            fail(new StorageError('Unavailable', `${this.description}: cannot start the sftp subsystem: ${err.message}`, false, { cause: err }));
            return;
          }
          const s = new Session(client, sftp, this.description);
          session = s;
          sftp.on('error', () => s.markDead());
          sftp.on('close', () => {
            s.markDead();
            client.end();
          });
          settled = true;
          resolve(s);
        });
      });

      try {
        client.connect({
          host,
          port,
          username: user,
          ...auth,
          hostVerifier: (key: Buffer): boolean => {
            verdict = checkHostKey(hostKeys, key);
            return verdict.ok;
          },
          algorithms: { serverHostKey: algorithms },
          readyTimeout: this.readyTimeoutMs,
          keepaliveInterval: 15_000,
          keepaliveCountMax: 4,
          tryKeyboard: false,
        });
      } catch (err) {
        // ssh2 checks its configuration (and parses the private key) synchronously; its messages name the
        // problem, never the key.
        this.clients.delete(client);
        const message = (err as Error).message;
        if (/private ?key|passphrase/i.test(message)) {
          const hint = /passphrase/i.test(message) ? ' (load passphrase-protected keys into ssh-agent and leave identityFile unset)' : '';
          fail(new StorageError('AccessDenied', `${this.description}: ${authBy} is not a usable private key: ${message}${hint}`, true));
        } else {
          fail(new StorageError('Unavailable', `${this.description}: cannot start an SSH connection: ${message}`, true));
        }
      }
    });
  }

  // ---- operations ----

  private async mkdirs(s: Session, dir: string): Promise<void> {
    if (dir === '/' || dir === '.') return;
    try {
      await s.call<void>((sftp, cb) => sftp.mkdir(dir, { mode: 0o700 }, (err) => cb(err, undefined)));
      return;
    } catch (first) {
      let err = first;
      if (sftpCode(err) === SFTP.NO_SUCH_FILE) {
        await this.mkdirs(s, posix.dirname(dir));
        try {
          await s.call<void>((sftp, cb) => sftp.mkdir(dir, { mode: 0o700 }, (e) => cb(e, undefined)));
          return;
        } catch (again) {
          err = again;
        }
      }
      // OpenSSH answers FAILURE for EEXIST: fine if it is (now) a folder, e.g. made by a parallel put.
      const st = await s.call<Stats>((sftp, cb) => sftp.stat(dir, cb)).catch(() => undefined);
      if (st && (st.mode & S_IFMT) === S_IFDIR) return;
      throw err;
    }
  }

  private openNew(s: Session, path: string): Promise<Buffer> {
    return s.call<Buffer>((sftp, cb) => sftp.open(path, 'wx', { mode: 0o600 }, cb));
  }

  async put(key: string, data: Buffer, opts: OpOptions = {}): Promise<void> {
    const { signal } = opts;
    const final = this.path(key);
    if (signal?.aborted) throw abortError(signal);
    const s = await this.session(signal).catch((err: unknown) => {
      throw this.classify(err, key);
    });
    const temp = `${final}${TEMP_MARK}${randomBytes(6).toString('hex')}`;
    let handle: Buffer | undefined;
    let created = false;
    try {
      try {
        handle = await abortable(this.openNew(s, temp), signal);
      } catch (err) {
        if (sftpCode(err) !== SFTP.NO_SUCH_FILE) throw err;
        await abortable(this.mkdirs(s, posix.dirname(final)), signal);
        handle = await abortable(this.openNew(s, temp), signal);
      }
      created = true;
      await s.writeAll(handle, data, signal);
      await abortable(
        s.ext((sftp, cb) => sftp.ext_openssh_fsync(handle!, (err: Error | undefined) => cb(err))),
        signal
      );
      const h = handle;
      handle = undefined;
      await abortable(s.call<void>((sftp, cb) => sftp.close(h, (err) => cb(err, undefined))), signal);
      if (signal?.aborted) throw abortError(signal);
      // From here on the rename is not interrupted: a half-done fallback would leave no object at all.
      const posixRenamed = await s.ext((sftp, cb) => sftp.ext_openssh_rename(temp, final, cb));
      if (!posixRenamed) {
        await s.call<void>((sftp, cb) => sftp.unlink(final, (err) => cb(err, undefined))).catch((err: unknown) => {
          if (sftpCode(err) !== SFTP.NO_SUCH_FILE) throw err;
        });
        await s.call<void>((sftp, cb) => sftp.rename(temp, final, (err) => cb(err, undefined)));
      }
    } catch (err) {
      // Also reached with `handle` unset when the temp file was created but the open was abandoned on abort:
      // an unlink of a name still open on the server is fine (POSIX).
      if (created || signal?.aborted) await this.discardTemp(s, handle, temp);
      throw this.classify(err, key);
    }
  }

  /** Best effort, bounded: close and unlink a temp file; a wedged connection is dropped (the listing shows leftovers). */
  private async discardTemp(s: Session, handle: Buffer | undefined, temp: string): Promise<void> {
    const cleanup = (async () => {
      if (handle) await s.call<void>((sftp, cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(() => undefined);
      await s.call<void>((sftp, cb) => sftp.unlink(temp, (err) => cb(err, undefined))).catch(() => undefined);
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      cleanup.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ABORT_CLEANUP_MS, true))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      s.markDead();
      s.client.destroy();
    }
  }

  async get(key: string, opts: OpOptions = {}): Promise<Readable> {
    const { signal } = opts;
    const path = this.path(key);
    try {
      const s = await this.session(signal);
      const handle = await abortable(
        s.call<Buffer>((sftp, cb) => sftp.open(path, 'r', cb)),
        signal
      );
      let st: Stats;
      try {
        st = await abortable(
          s.call<Stats>((sftp, cb) => sftp.fstat(handle, cb)),
          signal
        );
      } catch (err) {
        s.call<void>((sftp, cb) => sftp.close(handle, (e) => cb(e, undefined))).catch(() => undefined);
        throw err;
      }
      if ((st.mode & S_IFMT) !== S_IFREG) {
        s.call<void>((sftp, cb) => sftp.close(handle, (e) => cb(e, undefined))).catch(() => undefined);
        throw new StorageError('NotFound', `no object ${key} in ${this.description} (not a regular file)`);
      }
      const stream = new SftpReadStream(s, handle, st.size, (err) => this.classify(err, key));
      return signal ? addAbortSignal(signal, stream) : stream;
    } catch (err) {
      throw this.classify(err, key);
    }
  }

  async stat(key: string, opts: OpOptions = {}): Promise<StorageObject | undefined> {
    const path = this.path(key);
    try {
      const s = await this.session(opts.signal);
      const st = await abortable(
        s.call<Stats>((sftp, cb) => sftp.stat(path, cb)),
        opts.signal
      );
      return (st.mode & S_IFMT) === S_IFREG ? { key, size: st.size } : undefined;
    } catch (err) {
      if (sftpCode(err) === SFTP.NO_SUCH_FILE) return undefined;
      throw this.classify(err, key);
    }
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<StorageObject> {
    // Walk only the folder that can hold the prefix.
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const dirPath = base === '' ? this.root : this.path(base);
    let s: Session;
    try {
      s = await this.session(opts.signal);
    } catch (err) {
      throw this.classify(err, prefix);
    }
    yield* this.walk(s, base, dirPath, prefix, opts);
  }

  private async *walk(s: Session, dirKey: string, dirPath: string, prefix: string, opts: ListOptions): AsyncIterable<StorageObject> {
    const { signal } = opts;
    if (signal?.aborted) throw abortError(signal);
    let entries: FileEntryWithStats[];
    try {
      entries = await abortable(
        s.call<FileEntryWithStats[]>((sftp, cb) => sftp.readdir(dirPath, cb)),
        signal
      );
    } catch (err) {
      if (sftpCode(err) === SFTP.NO_SUCH_FILE) return; // also ENOTDIR on OpenSSH
      throw this.classify(err, dirKey === '' ? '/' : dirKey);
    }
    // Key order: a folder sorts as `name/`, so `a.x` comes before everything under `a/` (as their keys do).
    const sorted = entries
      .map((e) => ({ name: e.filename, type: e.attrs.mode & S_IFMT, size: e.attrs.size }))
      .filter((e) => e.type === S_IFDIR || e.type === S_IFREG)
      .map((e) => ({ ...e, sortKey: e.type === S_IFDIR ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const entry of sorted) {
      if (entry.name.includes('/') || entry.name === '.' || entry.name === '..') continue;
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.type === S_IFDIR) {
        if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) yield* this.walk(s, key, `${dirPath === '/' ? '' : dirPath}/${entry.name}`, prefix, opts);
      } else if (key.startsWith(prefix)) {
        const temporary = entry.name.includes(TEMP_MARK);
        if (temporary && !opts.includeTemporary) continue;
        yield temporary ? { key, size: entry.size, temporary } : { key, size: entry.size };
      }
    }
  }

  async remove(key: string, opts: OpOptions = {}): Promise<void> {
    const path = this.tempAwarePath(key);
    let s: Session;
    try {
      s = await this.session(opts.signal);
      await abortable(
        s.call<void>((sftp, cb) => sftp.unlink(path, (err) => cb(err, undefined))),
        opts.signal
      );
    } catch (err) {
      if (sftpCode(err) === SFTP.NO_SUCH_FILE) return;
      throw this.classify(err, key);
    }
    await this.pruneEmptyDirs(s, posix.dirname(path));
  }

  /** Removes folders emptied by `remove`, up to (not including) the root; stops at the first non-empty one. */
  private async pruneEmptyDirs(s: Session, dir: string): Promise<void> {
    const under = this.root === '/' ? '/' : `${this.root}/`;
    while (dir.startsWith(under) && dir !== this.root) {
      try {
        await s.call<void>((sftp, cb) => sftp.rmdir(dir, (err) => cb(err, undefined)));
      } catch {
        return;
      }
      dir = posix.dirname(dir);
    }
  }

  async close(): Promise<void> {
    this.connecting = undefined;
    await Promise.all(
      [...this.clients].map(
        (client) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              client.destroy();
              resolve();
            }, 2_000);
            client.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            client.end();
          })
      )
    );
  }
}
