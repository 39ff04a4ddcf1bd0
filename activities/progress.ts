/** Heartbeats of long transfers: progress for the CLI and the UI, throttled, never carrying secrets. */
import { heartbeat } from '@temporalio/activity';
import type { TransferProgress } from '../workflows/shared/types';

export class ProgressReporter {
  private last = 0;
  private readonly keepAlive: NodeJS.Timeout;
  readonly state: TransferProgress;

  constructor(
    initial: Partial<TransferProgress> & Pick<TransferProgress, 'phase'>,
    private readonly intervalMs = 1000
  ) {
    this.state = { files: 0, bytes: 0, segment: 0, storedBytes: 0, ...initial };
    // A slow segment upload reads nothing, so nothing reports progress: heartbeat anyway, so that the heartbeat
    // timeout only fires for a dead worker, not a slow storage.
    this.keepAlive = setInterval(() => this.update({}, true), Math.max(intervalMs, 5000));
    this.keepAlive.unref();
  }

  /** Stops the keep-alive heartbeats; call when the transfer ends, whatever its outcome. */
  stop(): void {
    clearInterval(this.keepAlive);
  }

  /** Merges `patch`; heartbeats when forced or when the interval has passed (heartbeats also deliver cancellation). */
  update(patch: Partial<TransferProgress>, force = false): void {
    Object.assign(this.state, patch);
    const now = Date.now();
    if (force || now - this.last >= this.intervalMs) {
      this.last = now;
      heartbeat({ ...this.state });
    }
  }
}

/** Keeps the first `limit` warnings and counts the rest, so a tree of unreadable files cannot bloat history. */
export class WarningList {
  readonly kept: string[] = [];
  dropped = 0;
  constructor(private readonly limit: number) {}
  add(message: string): void {
    if (this.kept.length < this.limit) this.kept.push(message);
    else this.dropped++;
  }
  list(): string[] {
    return this.dropped > 0 ? [...this.kept, `... and ${this.dropped} more warnings`] : [...this.kept];
  }
}
