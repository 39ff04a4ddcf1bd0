/**
 * Waiting for OpenStack resources: short polls that back off (0.2 s, then every 0.5 s; a ready resource is seen
 * within a fraction of a second, unlike Freezer's fixed 5 s sleeps), a hard timeout, a callback on every poll (the
 * activity heartbeats there, which also delivers cancellation), and an error state that fails the step at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** The wait fails with ResourceWaitTimeoutError after this long. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** First poll interval; doubles up to `maxPollMs`. */
  pollMs?: number;
  maxPollMs?: number;
  /** Called after every poll with the status seen (undefined = the resource is gone). */
  onPoll?: (status: string | undefined, elapsedMs: number) => void;
}

/** The resource went into an error state (or vanished) while we waited for it: the step fails, no retry. */
export class ResourceErrorStateError extends Error {
  override readonly name = 'ResourceErrorStateError';
}

/** The resource did not reach the wanted state in time. */
export class ResourceWaitTimeoutError extends Error {
  override readonly name = 'ResourceWaitTimeoutError';
}

export const DEFAULT_POLL_MS = 200;
export const DEFAULT_MAX_POLL_MS = 500;

/** Error states: Cinder's `error*`, Glance's `killed`/`deactivated`, Nova's `ERROR`. */
export function isErrorStatus(status: string): boolean {
  const s = status.toLowerCase();
  return s.startsWith('error') || s === 'killed' || s === 'deactivated';
}

async function poll<T>(
  what: string,
  get: () => Promise<T | undefined>,
  statusOf: (r: T) => string,
  done: (r: T | undefined) => boolean,
  fail: (r: T | undefined) => string | undefined,
  opts: WaitOptions
): Promise<T | undefined> {
  const started = Date.now();
  let interval = opts.pollMs ?? DEFAULT_POLL_MS;
  const max = opts.maxPollMs ?? DEFAULT_MAX_POLL_MS;
  let last = 'unknown';
  for (;;) {
    opts.signal?.throwIfAborted();
    const r = await get();
    const status = r === undefined ? undefined : statusOf(r);
    last = status ?? 'gone';
    const elapsed = Date.now() - started;
    opts.onPoll?.(status, elapsed);
    if (done(r)) return r;
    const why = fail(r);
    if (why !== undefined) throw new ResourceErrorStateError(`${what}: ${why}`);
    if (elapsed >= opts.timeoutMs) {
      throw new ResourceWaitTimeoutError(`${what}: still ${last} after ${Math.round(elapsed / 1000)} s (timeout ${Math.round(opts.timeoutMs / 1000)} s)`);
    }
    await sleep(Math.min(interval, Math.max(0, opts.timeoutMs - elapsed) + 10), undefined, { signal: opts.signal });
    interval = Math.min(interval * 2, max);
  }
}

/** Waits until `get` returns a resource in one of `ready`; an error state, or the resource vanishing, fails at once. */
export async function waitForStatus<T extends { status: string }>(
  what: string,
  get: () => Promise<T | undefined>,
  ready: readonly string[],
  opts: WaitOptions & { detail?: (r: T) => string | undefined }
): Promise<T> {
  const wanted = new Set(ready.map((s) => s.toLowerCase()));
  const r = await poll(
    what,
    get,
    (x) => x.status,
    (x) => x !== undefined && wanted.has(x.status.toLowerCase()),
    (x) => {
      if (x === undefined) return 'it no longer exists';
      if (isErrorStatus(x.status)) return `status ${x.status}${opts.detail?.(x) ? ` (${opts.detail(x)})` : ''}`;
      return undefined;
    },
    opts
  );
  return r as T;
}

/**
 * Waits until `get` finds nothing (deleted). `error_deleting` fails at once; any other state is waited out (a
 * deletion the service queued behind a running operation).
 */
export async function waitGone<T extends { status: string }>(what: string, get: () => Promise<T | undefined>, opts: WaitOptions): Promise<void> {
  await poll(
    what,
    get,
    (x) => x.status,
    (x) => x === undefined || ['deleted'].includes(x.status.toLowerCase()),
    (x) => (x !== undefined && x.status.toLowerCase() === 'error_deleting' ? 'status error_deleting' : undefined),
    opts
  );
}

/** Waits while the resource is in one of `transitional` states (it cannot be deleted then); returns it, or undefined if gone. */
export async function waitSettled<T extends { status: string }>(what: string, get: () => Promise<T | undefined>, transitional: readonly string[], opts: WaitOptions): Promise<T | undefined> {
  const busy = new Set(transitional.map((s) => s.toLowerCase()));
  return poll(
    what,
    get,
    (x) => x.status,
    (x) => x === undefined || !busy.has(x.status.toLowerCase()),
    () => undefined,
    opts
  );
}
