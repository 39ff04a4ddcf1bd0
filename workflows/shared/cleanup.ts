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

export class Cleanup {
  private readonly undos: Undo[] = [];

  /** Registers `fn`, which must be idempotent (it may run although the step never created anything). */
  push(step: string, fn: () => Promise<unknown>): void {
    this.undos.unshift({ step, fn });
  }

  /** Runs every undo, newest first; returns the steps whose undo failed. */
  async run(): Promise<string[]> {
    const failed: string[] = [];
    await CancellationScope.nonCancellable(async () => {
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
