/** A token-bucket rate limit as a stream stage: at most `bytesPerSecond` on average, bursts up to one second's worth. */
import { Transform } from 'node:stream';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst = rate,
    private readonly now: () => number = () => performance.now()
  ) {
    if (!(rate > 0)) throw new RangeError('rate must be positive');
    this.tokens = burst;
    this.last = now();
  }

  /** Milliseconds to wait before `bytes` may pass; takes the tokens (going into debt if needed). */
  take(bytes: number): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }
}

/** Passes chunks through, delaying them to keep to the rate. */
export function createThrottle(bytesPerSecond: number, signal?: AbortSignal): Transform {
  const bucket = new TokenBucket(bytesPerSecond);
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const wait = bucket.take(chunk.length);
      if (wait <= 0) return cb(null, chunk);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        cb(null, chunk);
      }, wait);
      const onAbort = (): void => {
        clearTimeout(timer);
        cb(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    },
  });
}
