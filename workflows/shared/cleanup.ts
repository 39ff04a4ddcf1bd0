/**
 * The undo stack of a workflow: register the inverse of a step *before* the step creates anything, and run the stack
 * in a non-cancellable scope on success, failure and cancellation alike (a cancelled scope would cancel the undo
 * activities themselves). Each undo failure is logged and the rest still run.
 */
import { CancellationScope, log } from '@temporalio/workflow';

interface Undo {
  step: string;
  fn: () => Promise<unknown>;
}

/** A registered undo that can be run early, as soon as what it removes is no longer needed. */
export interface UndoHandle {
  /**
   * Runs the undo now, off the stack, not cancellable. Resolves when it is done; if it fails it goes back on the
   * stack (the final cleanup tries again). The final cleanup waits for it; once the final cleanup has started,
   * runNow leaves the undo to it.
   */
  runNow(): Promise<void>;
}

export class Cleanup {
  private readonly undos: Undo[] = [];
  private readonly early: Promise<void>[] = [];
  /** Set when the final cleanup starts: from then on it runs every undo left, and runNow does nothing. */
  private closing = false;

  /** Registers `fn`, which must be idempotent (it may run although the step never created anything). */
  push(step: string, fn: () => Promise<unknown>): UndoHandle {
    const undo: Undo = { step, fn };
    this.undos.unshift(undo);
    return {
      runNow: () => {
        const at = this.undos.indexOf(undo);
        if (at < 0 || this.closing) return Promise.resolve();
        this.undos.splice(at, 1);
        const run = CancellationScope.nonCancellable(async () => {
          try {
            await fn();
          } catch (err) {
            log.warn('early cleanup step failed; it runs again at the end', { step, error: String(err) });
            this.undos.unshift(undo);
          }
        });
        this.early.push(run);
        return run;
      },
    };
  }

  /** Runs every undo, newest first (after any early one still running); returns the steps whose undo failed. */
  async run(): Promise<string[]> {
    const failed: string[] = [];
    this.closing = true;
    await CancellationScope.nonCancellable(async () => {
      await Promise.all(this.early.splice(0));
      for (const { step, fn } of this.undos.splice(0)) {
        try {
          await fn();
        } catch (err) {
          failed.push(step);
          log.error('cleanup step failed; the sweeper will retry it', { step, error: String(err) });
        }
      }
    });
    return failed;
  }
}

/** Runs `body`, then always the cleanup stack it filled; the body's outcome (result, failure, cancel) is kept. */
export async function withCleanup<T>(body: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = new Cleanup();
  try {
    return await body(cleanup);
  } finally {
    await cleanup.run();
  }
}
