/**
 * The one storage interface. Keys are `/`-separated relative paths (see workflows/shared/naming.ts for the layout).
 * Drivers classify errors (StorageError.code) and never retry: retries belong to Temporal.
 */
import type { Readable } from 'node:stream';

export interface StorageObject {
  key: string;
  size: number;
  /** An in-flight write (temp name) left by a process that died; only listed with `includeTemporary`. */
  temporary?: boolean;
}

export interface ListOptions extends OpOptions {
  includeTemporary?: boolean;
}

export interface OpOptions {
  signal?: AbortSignal;
}

export interface StorageDriver {
  /** Human-readable location, without secrets. */
  readonly description: string;
  /** Stores `data` under `key` atomically: a reader sees the old object, no object, or all of `data`. Idempotent. */
  put(key: string, data: Buffer, opts?: OpOptions): Promise<void>;
  /** Streams an object; fails with code NotFound when it does not exist. */
  get(key: string, opts?: OpOptions): Promise<Readable>;
  /** Size of an object, or undefined when it does not exist. */
  stat(key: string, opts?: OpOptions): Promise<StorageObject | undefined>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string, opts?: ListOptions): AsyncIterable<StorageObject>;
  /** Removes an object (or a listed temporary); removing a missing object succeeds (idempotent). */
  remove(key: string, opts?: OpOptions): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

export const STORAGE_ERROR_CODES = ['NotFound', 'InvalidKey', 'AccessDenied', 'Unavailable', 'Corrupt'] as const;
export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

/** A classified storage failure. `permanent` failures are not worth retrying. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly permanent: boolean = code !== 'Unavailable',
    options?: { cause?: unknown }
  ) {
    super(message, options);
  }
}

/** Validates a relative object key: no empty, `.` or `..` segments, no leading `/`, no NUL. */
export function assertValidKey(key: string): void {
  if (key.length === 0 || key.startsWith('/') || key.includes('\0') || key.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new StorageError('InvalidKey', `invalid storage key ${JSON.stringify(key)}`);
  }
}
