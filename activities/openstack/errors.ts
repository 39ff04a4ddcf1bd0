/**
 * Typed OpenStack API failures: HTTP status (or connection failure) -> kind, and whether a retry can help.
 * Messages carry the operation, the status, the decoded server message and the request id; never a secret.
 * Retrying is Temporal's job: `permanent` only tells it whether to bother.
 */
import { StorageError } from '../storage/driver';

export const OPENSTACK_ERROR_KINDS = [
  /** Missing or invalid configuration on the node (no clouds.yaml entry, no OS_AUTH_URL, no endpoint in the catalog). */
  'Config',
  'BadRequest',
  /** 401 that survived one re-authentication, or rejected credentials. */
  'Unauthorized',
  'Forbidden',
  'NotFound',
  /** 409: the resource is in a state that does not allow the call (yet). */
  'Conflict',
  /** 413: quota or size limit. */
  'OverLimit',
  /** 422: the server refused the entity (Swift: the body does not match its ETag). */
  'Unprocessable',
  /** 408, 429, 498, 413 with Retry-After. */
  'RateLimited',
  /** 5xx, connection refused/reset, timeouts. */
  'Unavailable',
  /** A 2xx answer that does not look like the API (a proxy page, a token without catalog). */
  'InvalidResponse',
] as const;
export type OpenStackErrorKind = (typeof OPENSTACK_ERROR_KINDS)[number];

const RETRYABLE: ReadonlySet<OpenStackErrorKind> = new Set(['Conflict', 'RateLimited', 'Unavailable', 'InvalidResponse']);

/** A classified OpenStack failure. `status` is absent for connection failures and configuration errors. */
export class OpenStackError extends Error {
  override readonly name = 'OpenStackError';
  readonly permanent: boolean;
  constructor(
    readonly kind: OpenStackErrorKind,
    message: string,
    readonly status?: number,
    readonly requestId?: string,
    options?: { cause?: unknown; permanent?: boolean }
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.permanent = options?.permanent ?? !RETRYABLE.has(kind);
  }
}

/** Kind of a non-2xx HTTP status. */
export function kindOfStatus(status: number, retryAfter?: string): OpenStackErrorKind {
  if (status === 401) return 'Unauthorized';
  if (status === 403) return 'Forbidden';
  if (status === 404) return 'NotFound';
  if (status === 409) return 'Conflict';
  if (status === 413) return retryAfter === undefined ? 'OverLimit' : 'RateLimited';
  if (status === 422) return 'Unprocessable';
  if (status === 408 || status === 429 || status === 498) return 'RateLimited';
  if (status >= 500) return 'Unavailable';
  return 'BadRequest';
}

const MAX_MESSAGE = 300;

/**
 * The human part of an error body: `{"error":{"message"}}` (Keystone), `{"itemNotFound":{"message"}}` (Nova, Cinder),
 * `{"message"}`, or text/HTML (Swift, Glance) with the tags stripped. Truncated; empty when there is nothing useful.
 */
export function decodeErrorBody(body: string, contentType = ''): string {
  const text = body.trim();
  if (text === '') return '';
  if (contentType.includes('json') || text.startsWith('{')) {
    try {
      const message = findMessage(JSON.parse(text) as unknown, 0);
      if (message !== undefined) return clip(message);
    } catch {
      // not JSON after all: fall through to text
    }
  }
  const plain = text
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
  return clip(plain);
}

function findMessage(value: unknown, depth: number): string | undefined {
  if (depth > 3 || value === null || typeof value !== 'object') return undefined;
  const obj = value as Record<string, unknown>;
  for (const field of ['message', 'detail', 'title', 'description']) {
    const v = obj[field];
    if (typeof v === 'string' && v.trim() !== '') return v;
  }
  for (const v of Object.values(obj)) {
    const found = findMessage(v, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function clip(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > MAX_MESSAGE ? `${one.slice(0, MAX_MESSAGE)}…` : one;
}

/** Replaces every occurrence of the given secrets (passwords, tokens) in `text`. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    // Short values would shred ordinary words; such secrets are also not worth the guess.
    if (s.length >= 4) out = out.split(s).join('[redacted]');
  }
  return out;
}

export interface ErrorContext {
  /** What was attempted, e.g. `PUT object a/b in container c`. */
  what: string;
  requestId?: string;
  retryAfter?: string;
}

/** The error for a non-2xx answer. `body` must already be redacted by the caller when it could echo secrets. */
export function errorFromStatus(status: number, body: string, contentType: string | undefined, ctx: ErrorContext): OpenStackError {
  const kind = kindOfStatus(status, ctx.retryAfter);
  const detail = decodeErrorBody(body, contentType);
  const rid = ctx.requestId ? ` [request ${ctx.requestId}]` : '';
  return new OpenStackError(kind, `${ctx.what}: HTTP ${status} ${kind}${detail ? `: ${detail}` : ''}${rid}`, status, ctx.requestId);
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** The error for a request that got no (complete) answer: refused, reset, DNS, TLS, timeout. Always retryable. */
export function errorFromConnection(err: unknown, ctx: ErrorContext & { origin: string }): OpenStackError {
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? (e.cause as NodeJS.ErrnoException | undefined)?.code ?? e.name;
  const what = TIMEOUT_CODES.has(code) ? 'timed out' : 'failed';
  // Undici/Node connection messages name the address and the errno, never headers or bodies.
  return new OpenStackError('Unavailable', `${ctx.what}: connection to ${ctx.origin} ${what} (${code}: ${e.message})`, undefined, ctx.requestId, {
    cause: err,
  });
}

export function isAbortError(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  const name = (err as Error | undefined)?.name;
  return name === 'AbortError' || (err as NodeJS.ErrnoException | undefined)?.code === 'UND_ERR_ABORTED';
}

/**
 * The StorageError for an OpenStack failure (drivers throw only StorageErrors, plus aborts as they are).
 * NotFound -> NotFound; Unauthorized/Forbidden/Config -> AccessDenied; BadRequest/Unprocessable -> InvalidKey;
 * OverLimit -> Unavailable (permanent); everything retryable -> Unavailable (retryable).
 */
export function toStorageError(err: unknown): unknown {
  if (!(err instanceof OpenStackError)) return err;
  switch (err.kind) {
    case 'NotFound':
      return new StorageError('NotFound', err.message, true, { cause: err });
    case 'Unauthorized':
    case 'Forbidden':
    case 'Config':
      return new StorageError('AccessDenied', err.message, true, { cause: err });
    case 'BadRequest':
    case 'Unprocessable':
      return new StorageError('InvalidKey', err.message, err.permanent, { cause: err });
    case 'OverLimit':
    case 'Conflict':
    case 'RateLimited':
    case 'Unavailable':
    case 'InvalidResponse':
      return new StorageError('Unavailable', err.message, err.permanent, { cause: err });
  }
}
