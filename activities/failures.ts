/**
 * The one place where errors become ApplicationFailures. The failure `type` is the error class name (or, for storage
 * errors, `Storage<Code>`); workflows and the CLI branch on it. Permanent conditions are non-retryable.
 */
import { ApplicationFailure, cancellationSignal, CancelledFailure } from '@temporalio/activity';
import { NON_RETRYABLE_ERRORS } from '../workflows/shared/errors';
import { StorageError } from './storage/driver';
import { OpenStackError } from './openstack/errors';

/** Bad input that slipped past the client's checks (a path missing on the node, say). */
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
}

/** No committed backup matches what a restore asked for. */
export class NoBackupFoundError extends Error {
  override readonly name = 'NoBackupFoundError';
}

/** The key an encrypted backup was written with does not match the one given to read it. */
export class EncryptionKeyMismatchError extends Error {
  override readonly name = 'EncryptionKeyMismatchError';
}

/** A backup's content does not match its manifest. */
export class CorruptBackupError extends Error {
  override readonly name = 'CorruptBackupError';
}


export function toFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const signal = safeSignal();
  if (signal?.aborted) return signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure(String(signal.reason));
  if (err instanceof StorageError) {
    return ApplicationFailure.create({ message: err.message, type: `Storage${err.code}`, nonRetryable: err.permanent, cause: err });
  }
  if (err instanceof OpenStackError) {
    // Typed for the workflow (`OpenStackNotFound`, ...): NotFound, Conflict, Unauthorized, Forbidden, OverLimit and
    // other refusals are final; 5xx, rate limits and connection failures are retried by Temporal.
    const type = `OpenStack${err.kind}`;
    return ApplicationFailure.create({ message: err.message, type, nonRetryable: (NON_RETRYABLE_ERRORS as readonly string[]).includes(type), cause: err });
  }
  if (err instanceof Error) {
    const type = err.name === 'Error' ? (err as NodeJS.ErrnoException).code ?? 'Error' : err.name;
    const nonRetryable = (NON_RETRYABLE_ERRORS as readonly string[]).includes(type);
    return ApplicationFailure.create({ message: err.message, type, nonRetryable, cause: err });
  }
  return ApplicationFailure.create({ message: String(err), type: 'Error' });
}

function safeSignal(): AbortSignal | undefined {
  try {
    return cancellationSignal();
  } catch {
    return undefined; // not inside an activity
  }
}

/** Wraps every function of an activity object so that what it throws is mapped by `toFailure`. */
export function withFailureMapping<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    const named = {
      async [name](...args: never[]): Promise<unknown> {
        try {
          return await fn(...args);
        } catch (err) {
          throw toFailure(err);
        }
      },
    };
    wrapped[name] = named[name];
  }
  return wrapped as T;
}
