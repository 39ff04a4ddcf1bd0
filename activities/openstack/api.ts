/**
 * JSON calls on top of the one session: the thin shared layer of the Glance, Cinder and Nova clients (typed errors
 * come from the session; a 404 can be asked for as `undefined`, which is how deletes and lookups stay idempotent).
 */
import type { Readable } from 'node:stream';
import type { OpenStackSession } from './session';
import type { HttpResponse } from './http';

export interface CallOptions {
  signal?: AbortSignal;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
}

/** One OpenStack service (catalog type) as seen through a session, with fixed extra headers (microversions). */
export class ServiceApi {
  constructor(
    readonly session: OpenStackSession,
    readonly serviceType: string,
    private readonly fixedHeaders: Record<string, string> = {}
  ) {}

  async send(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD',
    path: string,
    what: string,
    opts: CallOptions & { body?: unknown; raw?: Buffer | Readable; contentType?: string } = {}
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.fixedHeaders, ...opts.headers };
    let body: Buffer | string | Readable | undefined;
    if (opts.raw !== undefined) {
      body = opts.raw;
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    return this.session.request(this.serviceType, { method, path, query: opts.query, headers, body, signal: opts.signal, what });
  }

  /** A JSON answer; non-2xx statuses reject with the typed OpenStackError. */
  async json<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, what: string, opts: CallOptions & { body?: unknown; contentType?: string } = {}): Promise<T> {
    const res = await this.session.throwForStatus(await this.send(method, path, what, opts), what);
    const text = await res.text();
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  /** Like `json`, but a 404 resolves to undefined. */
  async jsonOrMissing<T>(method: 'GET', path: string, what: string, opts: CallOptions = {}): Promise<T | undefined> {
    const res = await this.send(method, path, what, opts);
    if (res.status === 404) {
      await res.discard();
      return undefined;
    }
    await this.session.throwForStatus(res, what);
    return JSON.parse(await res.text()) as T;
  }

  /** A call whose answer body does not matter; a 404 resolves to false (idempotent deletes), 2xx to true. */
  async noContent(method: 'POST' | 'PUT' | 'DELETE' | 'PATCH', path: string, what: string, opts: CallOptions & { body?: unknown; raw?: Buffer | Readable; contentType?: string; missingOk?: boolean } = {}): Promise<boolean> {
    const res = await this.send(method, path, what, opts);
    if (res.status === 404 && opts.missingOk) {
      await res.discard();
      return false;
    }
    await this.session.throwForStatus(res, what);
    await res.discard();
    return true;
  }
}

/**
 * Walks a marker-paged listing (`limit` + `marker` = the last id) until a short page without a next link. A service
 * may cap pages below the asked limit (Cinder `osapi_max_limit`, Glance `api_limit_max`); its next link
 * (`volumes_links`, `next`), which `page` reports as `next`, then says there is more.
 */
export async function listAllPages<T extends { id: string }>(page: (marker: string | undefined, limit: number) => Promise<{ items: T[]; next: boolean }>, limit = 500): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  for (;;) {
    const { items, next } = await page(marker, limit);
    out.push(...items);
    const last = items.at(-1);
    if ((items.length < limit && !next) || last === undefined) return out;
    marker = last.id;
  }
}

/** An OpenStack timestamp as epoch ms; Cinder and Nova often omit the zone (they mean UTC). Undefined when unreadable. */
export function parseServiceTime(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`;
  const ms = Date.parse(zoned);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The string-valued fields of a resource (Glance properties, as tags). */
export function stringProps(obj: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) if (typeof v === 'string') out[k] = v;
  return out;
}
