/**
 * The one HTTP helper of the OpenStack clients: undici over a keep-alive Agent per session, explicit timeouts,
 * AbortSignal, streaming bodies, decoded error bodies. A request hook sees method, URL (no query), status and
 * `x-openstack-request-id`; never headers or bodies, so never a token.
 */
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { errorFromConnection, errorFromStatus, isAbortError, redact } from './errors';
import type { OpenStackError } from './errors';

export interface RequestEvent {
  method: string;
  /** Origin and path; the query (listing markers, prefixes) is left out. */
  url: string;
  status?: number;
  /** `x-openstack-request-id` (Swift: `x-trans-id`). */
  requestId?: string;
  durationMs: number;
  /** The error message, for requests that got no answer. */
  error?: string;
}

export interface HttpClientOptions {
  /** PEM CA bundle (OS_CACERT / clouds.yaml cacert) for TLS endpoints. */
  ca?: string | Buffer;
  connectTimeoutMs?: number;
  /** Time to the response headers; large uploads are acknowledged only after the last byte. */
  headersTimeoutMs?: number;
  /** Longest silence while a response body streams. */
  bodyTimeoutMs?: number;
  onRequest?: (event: RequestEvent) => void;
}

export const HTTP_DEFAULTS = { connectTimeoutMs: 30_000, headersTimeoutMs: 600_000, bodyTimeoutMs: 300_000 } as const;

export interface HttpRequest {
  method: Dispatcher.HttpMethod;
  url: string;
  headers?: Record<string, string>;
  /** A Readable is sent as it is read (uploads); it cannot be sent twice. */
  body?: Buffer | string | Readable;
  signal?: AbortSignal;
  /** Overrides the client's headers timeout for this request (authentication answers fast or not at all). */
  headersTimeoutMs?: number;
  /** For messages: `GET object x in container y`. */
  what: string;
}

export interface HttpResponse {
  status: number;
  ok: boolean;
  requestId?: string;
  /** First value of a header (lower-case name). */
  header(name: string): string | undefined;
  body: Readable;
  text(): Promise<string>;
  json(): Promise<unknown>;
  /** Reads and drops the body, so the connection can be reused. */
  discard(): Promise<void>;
}

const CLOSE_GRACE_MS = 2000;

/** Largest error body read for the message. */
const ERROR_BODY_LIMIT = 64 * 1024;

export class HttpClient {
  private readonly agent: Agent;
  private readonly onRequest?: (event: RequestEvent) => void;
  /** Values that must never appear in an error message (passwords, tokens); set by the session. */
  secrets: () => Iterable<string> = () => [];

  constructor(opts: HttpClientOptions = {}) {
    this.agent = new Agent({
      connect: { timeout: opts.connectTimeoutMs ?? HTTP_DEFAULTS.connectTimeoutMs, ...(opts.ca !== undefined ? { ca: opts.ca } : {}) },
      headersTimeout: opts.headersTimeoutMs ?? HTTP_DEFAULTS.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs ?? HTTP_DEFAULTS.bodyTimeoutMs,
    });
    this.onRequest = opts.onRequest;
  }

  /** Sends a request; any HTTP status resolves (see `throwForStatus`), no answer rejects with OpenStackError Unavailable. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    req.signal?.throwIfAborted();
    const started = Date.now();
    const url = new URL(req.url);
    const logUrl = `${url.origin}${url.pathname}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        dispatcher: this.agent,
        ...(req.headersTimeoutMs !== undefined ? { headersTimeout: req.headersTimeoutMs } : {}),
      });
    } catch (err) {
      if (isAbortError(err, req.signal)) throw err;
      const e = errorFromConnection(err, { what: req.what, origin: url.origin });
      e.message = redact(e.message, this.secrets());
      this.emit({ method: req.method, url: logUrl, durationMs: Date.now() - started, error: e.message });
      throw e;
    }
    const headers = res.headers;
    const header = (name: string): string | undefined => {
      const v = headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const requestId = header('x-openstack-request-id') ?? header('x-trans-id') ?? header('x-compute-request-id');
    this.emit({ method: req.method, url: logUrl, status: res.statusCode, requestId, durationMs: Date.now() - started });
    const body = res.body;
    return {
      status: res.statusCode,
      ok: res.statusCode >= 200 && res.statusCode < 300,
      requestId,
      header,
      body,
      text: () => body.text(),
      json: () => body.json(),
      discard: async () => {
        await body.dump({ limit: 1024 * 1024 }).catch(() => undefined);
      },
    };
  }

  /** The typed error of a non-2xx response (reads a bounded part of its body; secrets are redacted). */
  async errorFor(res: HttpResponse, what: string): Promise<OpenStackError> {
    let body = '';
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        if (size < ERROR_BODY_LIMIT) chunks.push(buf);
        size += buf.length;
        if (size >= ERROR_BODY_LIMIT) break;
      }
      body = Buffer.concat(chunks).subarray(0, ERROR_BODY_LIMIT).toString('utf8');
    } catch {
      // the message is best effort
    }
    const err = errorFromStatus(res.status, redact(body, this.secrets()), res.header('content-type'), {
      what,
      requestId: res.requestId,
      retryAfter: res.header('retry-after'),
    });
    err.message = redact(err.message, this.secrets());
    return err;
  }

  /** Resolves for 2xx; otherwise rejects with the typed error. */
  async throwForStatus(res: HttpResponse, what: string): Promise<HttpResponse> {
    if (res.ok) return res;
    throw await this.errorFor(res, what);
  }

  /** Closes idle connections; a request or body still in flight after a grace period is destroyed. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CLOSE_GRACE_MS)));
    try {
      if ((await Promise.race([this.agent.close(), grace])) === 'timeout') await this.agent.destroy();
    } finally {
      clearTimeout(timer);
    }
  }

  private emit(event: RequestEvent): void {
    try {
      this.onRequest?.(event);
    } catch {
      // a logging hook must not fail a request
    }
  }
}
