/**
 * OpenStack Swift storage. Keys are object names: the layout's segments (`…/segments/…`) go to `<container>_segments`,
 * everything else (manifests, probes) to `<container>`, as Freezer does; the manifest is written last by the caller.
 * A Swift PUT is atomic and checked against its MD5 ETag. Credentials are resolved on this node (activities/openstack).
 * Like every driver, it classifies failures (StorageError) and never retries; the one exception is the session's
 * single re-authentication when a token is rejected (401).
 */
import { createHash } from 'node:crypto';
import { pipeline, Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import type { SwiftStorageTarget } from '../../workflows/shared/types';
import { formatStorage, invalidSwiftContainer } from '../../workflows/shared/storage-url';
import { loadCloudConfig, OpenStackSession, processTokenCache } from '../openstack/session';
import type { CloudConfig, SessionOptions } from '../openstack/session';
import { toStorageError } from '../openstack/errors';
import type { HttpResponse } from '../openstack/http';
import type { ListOptions, OpOptions, StorageDriver, StorageObject } from './driver';
import { assertValidKey, StorageError } from './driver';

/** Keys containing this go to the segments container. */
export const SEGMENTS_MARK = '/segments/';
export const SEGMENTS_SUFFIX = '_segments';
/** Swift's default container_listing_limit; a larger limit is refused with 412. */
export const DEFAULT_PAGE_LIMIT = 10_000;
/** Swift's default max_object_name_length (bytes). */
const MAX_OBJECT_NAME = 1024;

export interface SwiftStorageOptions extends SessionOptions {
  /** Objects per listing request. */
  pageLimit?: number;
  /** Use these credentials instead of resolving clouds.yaml / OS_* (the target's region and interface still apply). */
  config?: CloudConfig;
  /** Where credentials are resolved (defaults: process.env, process.cwd(), the home directory). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  home?: string;
}

const SERVICE = 'object-store';

function objectPath(container: string, key: string): string {
  return `/${encodeURIComponent(container)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Merges listings that are each sorted in Swift's (UTF-8 byte) order. */
async function* mergeSorted(sources: AsyncIterator<StorageObject>[]): AsyncGenerator<StorageObject> {
  try {
    const heads: IteratorResult<StorageObject>[] = [];
    for (const s of sources) heads.push(await s.next());
    for (;;) {
      let min = -1;
      heads.forEach((h, i) => {
        if (h.done) return;
        const best = heads[min];
        if (min < 0 || (best !== undefined && !best.done && byteOrder(h.value.key, best.value.key) < 0)) min = i;
      });
      const head = heads[min];
      const source = sources[min];
      if (head === undefined || head.done || source === undefined) return;
      yield head.value;
      heads[min] = await source.next();
    }
  } finally {
    for (const s of sources) if (s.return) await s.return();
  }
}

/** Passes a download through and fails it with Corrupt when its MD5 differs from the object's ETag. */
function verifyingMd5(body: Readable, etag: string, what: string): Readable {
  const hash = createHash('md5');
  const check = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      const got = hash.digest('hex');
      callback(got === etag ? null : new StorageError('Corrupt', `${what}: content MD5 ${got} does not match the ETag ${etag}`));
    },
  });
  // Errors of the body (abort, timeout, reset) destroy `check` and reach the reader; destroying `check` ends the body.
  pipeline(body, check, () => undefined);
  return check;
}

export class SwiftStorage implements StorageDriver {
  readonly container: string;
  readonly segmentsContainer: string;
  private readonly pageLimit: number;
  private sessionPromise?: Promise<OpenStackSession>;
  private readonly ensured = new Map<string, Promise<void>>();

  constructor(
    readonly target: SwiftStorageTarget,
    private readonly opts: SwiftStorageOptions = {}
  ) {
    const bad = invalidSwiftContainer(target.container);
    if (bad) throw new StorageError('InvalidKey', bad);
    this.container = target.container;
    this.segmentsContainer = `${target.container}${SEGMENTS_SUFFIX}`;
    this.pageLimit = opts.pageLimit ?? DEFAULT_PAGE_LIMIT;
    if (!Number.isInteger(this.pageLimit) || this.pageLimit < 1) throw new RangeError(`pageLimit must be a positive integer, not ${this.pageLimit}`);
  }

  get description(): string {
    return formatStorage(this.target);
  }

  /** The container that holds `key`. */
  containerFor(key: string): string {
    return key.includes(SEGMENTS_MARK) ? this.segmentsContainer : this.container;
  }

  /** Resolves the credentials on this node and opens the session (once; the first storage call does it too). */
  connect(): Promise<OpenStackSession> {
    if (!this.sessionPromise) {
      const promise = this.openSession();
      this.sessionPromise = promise;
      // A failed resolution (bad clouds.yaml, unreadable CA) is not cached: the next call tries again.
      promise.catch(() => {
        if (this.sessionPromise === promise) this.sessionPromise = undefined;
      });
    }
    return this.sessionPromise;
  }

  private async openSession(): Promise<OpenStackSession> {
    const { target, opts } = this;
    const config: CloudConfig = opts.config
      ? { ...opts.config, ...(target.region !== undefined ? { region: target.region } : {}), ...(target.interface !== undefined ? { interface: target.interface } : {}) }
      : await loadCloudConfig({
          ...(target.cloud !== undefined ? { cloud: target.cloud } : {}),
          ...(target.region !== undefined ? { region: target.region } : {}),
          ...(target.interface !== undefined ? { interface: target.interface } : {}),
          ...(opts.env !== undefined ? { env: opts.env } : {}),
          ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
          ...(opts.home !== undefined ? { home: opts.home } : {}),
        });
    return OpenStackSession.create(config, { ...opts, tokenCache: opts.tokenCache ?? processTokenCache });
  }

  private checkKey(key: string): void {
    assertValidKey(key);
    if (Buffer.byteLength(key, 'utf8') > MAX_OBJECT_NAME) throw new StorageError('InvalidKey', `storage key is longer than ${MAX_OBJECT_NAME} bytes: ${key.slice(0, 80)}…`);
  }

  /** HEAD the container, PUT it when missing; once per container and driver. */
  private ensureContainer(session: OpenStackSession, container: string, signal?: AbortSignal): Promise<void> {
    let done = this.ensured.get(container);
    if (!done) {
      done = (async () => {
        const path = `/${encodeURIComponent(container)}`;
        const head = await session.request(SERVICE, { method: 'HEAD', path, signal, what: `HEAD container ${container}` });
        await head.discard();
        if (head.ok) return;
        if (head.status !== 404) throw await session.errorFor(head, `HEAD container ${container}`);
        const what = `create container ${container}`;
        const put = await session.request(SERVICE, { method: 'PUT', path, headers: { 'content-length': '0' }, signal, what });
        await session.throwForStatus(put, what);
        await put.discard();
      })();
      this.ensured.set(container, done);
      done.catch(() => this.ensured.delete(container));
    }
    return done;
  }

  async put(key: string, data: Buffer, opts: OpOptions = {}): Promise<void> {
    this.checkKey(key);
    const { signal } = opts;
    signal?.throwIfAborted();
    const container = this.containerFor(key);
    const what = `PUT object ${key} in Swift container ${container}`;
    const md5 = createHash('md5').update(data).digest('hex');
    try {
      const session = await this.connect();
      await this.ensureContainer(session, container, signal);
      const res = await session.request(SERVICE, {
        method: 'PUT',
        path: objectPath(container, key),
        headers: {
          etag: md5,
          'content-type': 'application/octet-stream',
          'x-object-meta-permafrost-created-at': new Date().toISOString(),
        },
        body: data,
        signal,
        what,
      });
      if (res.status === 422) {
        await res.discard();
        // Swift refused the body because it does not match the ETag: damaged in transit, worth another try.
        throw new StorageError('Unavailable', `${what}: Swift refused the upload, its MD5 does not match ${md5} (HTTP 422)`, false);
      }
      await session.throwForStatus(res, what);
      await res.discard();
      const etag = res.header('etag')?.replace(/"/g, '');
      if (etag !== undefined && etag !== md5) {
        throw new StorageError('Unavailable', `${what}: stored ETag ${etag} is not the MD5 ${md5} of the data`, false);
      }
    } catch (err) {
      throw toStorageError(err);
    }
  }

  async get(key: string, opts: OpOptions = {}): Promise<Readable> {
    this.checkKey(key);
    const { signal } = opts;
    const container = this.containerFor(key);
    const what = `GET object ${key} in Swift container ${container}`;
    try {
      const session = await this.connect();
      const res = await session.request(SERVICE, { method: 'GET', path: objectPath(container, key), signal, what });
      await this.notFoundOr(session, res, what);
      // Plain objects carry their MD5 as an unquoted ETag; large-object manifests (never written by this driver)
      // carry a quoted MD5 of their segments' ETags instead, which says nothing about the content.
      const etag = res.header('etag');
      const plain = res.header('x-static-large-object') === undefined && res.header('x-object-manifest') === undefined;
      return etag !== undefined && plain && /^[0-9a-f]{32}$/.test(etag) ? verifyingMd5(res.body, etag, what) : res.body;
    } catch (err) {
      throw toStorageError(err);
    }
  }

  async stat(key: string, opts: OpOptions = {}): Promise<StorageObject | undefined> {
    this.checkKey(key);
    const container = this.containerFor(key);
    const what = `HEAD object ${key} in Swift container ${container}`;
    try {
      const session = await this.connect();
      const res = await session.request(SERVICE, { method: 'HEAD', path: objectPath(container, key), signal: opts.signal, what });
      await res.discard();
      if (res.status === 404) return undefined;
      await session.throwForStatus(res, what);
      return { key, size: Number(res.header('content-length') ?? 0) };
    } catch (err) {
      throw toStorageError(err);
    }
  }

  /** Both containers, merged in key order; each is read in pages of `pageLimit` with a marker. */
  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<StorageObject> {
    // Every key under a prefix containing the mark is a segment; other prefixes may match keys in both containers.
    const sources = [this.listContainer(this.segmentsContainer, prefix, true, opts.signal)];
    if (!prefix.includes(SEGMENTS_MARK)) sources.unshift(this.listContainer(this.container, prefix, false, opts.signal));
    try {
      yield* mergeSorted(sources);
    } catch (err) {
      throw toStorageError(err);
    }
  }

  private async *listContainer(container: string, prefix: string, segments: boolean, signal?: AbortSignal): AsyncGenerator<StorageObject> {
    const session = await this.connect();
    const what = `list Swift container ${container}`;
    let marker: string | undefined;
    for (;;) {
      const res = await session.request(SERVICE, {
        method: 'GET',
        path: `/${encodeURIComponent(container)}`,
        query: { format: 'json', limit: this.pageLimit, prefix: prefix === '' ? undefined : prefix, marker },
        headers: { accept: 'application/json' },
        signal,
        what,
      });
      if (res.status === 404 || res.status === 204) {
        // No container (nothing was ever stored there) or an empty listing.
        await res.discard();
        return;
      }
      await session.throwForStatus(res, what);
      const page = parseListing(await res.text(), what);
      // A short page does not prove the end (a server may cap the limit lower): only an empty page does.
      if (page.length === 0) return;
      for (const obj of page) {
        // The key -> container rule is total, so an object in the "wrong" container is unreachable: not listed.
        if (obj.name.includes(SEGMENTS_MARK) === segments) yield { key: obj.name, size: obj.bytes };
      }
      marker = page[page.length - 1]?.name;
    }
  }

  async remove(key: string, opts: OpOptions = {}): Promise<void> {
    this.checkKey(key);
    const container = this.containerFor(key);
    const what = `DELETE object ${key} in Swift container ${container}`;
    try {
      const session = await this.connect();
      const res = await session.request(SERVICE, { method: 'DELETE', path: objectPath(container, key), signal: opts.signal, what });
      await res.discard();
      if (res.status === 404) return;
      await session.throwForStatus(res, what);
    } catch (err) {
      throw toStorageError(err);
    }
  }

  async close(): Promise<void> {
    const pending = this.sessionPromise;
    this.sessionPromise = undefined;
    if (!pending) return;
    const session = await pending.catch(() => undefined);
    await session?.close();
  }

  private async notFoundOr(session: OpenStackSession, res: HttpResponse, what: string): Promise<void> {
    if (res.status === 404) {
      await res.discard();
      throw new StorageError('NotFound', `${what}: no such object${res.requestId ? ` [request ${res.requestId}]` : ''}`);
    }
    await session.throwForStatus(res, what);
  }
}

interface ListedObject {
  name: string;
  bytes: number;
}

function parseListing(text: string, what: string): ListedObject[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new StorageError('Unavailable', `${what}: the listing is not JSON`);
  }
  if (!Array.isArray(json)) throw new StorageError('Unavailable', `${what}: the listing is not a JSON array`);
  return json.map((o: unknown) => {
    const { name, bytes } = (o ?? {}) as { name?: unknown; bytes?: unknown };
    if (typeof name !== 'string' || typeof bytes !== 'number') throw new StorageError('Unavailable', `${what}: unexpected listing entry`);
    return { name, bytes };
  });
}
