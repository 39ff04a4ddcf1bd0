/**
 * Fault injection for integration tests: an activity interceptor on the real node worker. A planned step runs for
 * real first (so whatever it creates in OpenStack exists), then either fails, or holds (heartbeating) until the
 * workflow's cancellation reaches it or the test releases it. Test-only; production workers have no interceptors.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

export interface FaultPlan {
  activity: string;
  /** Only the call whose first argument matches (e.g. `{ kind: 'image' }` for one of the deleteTemporaries steps). */
  match?: Record<string, unknown>;
  /** fail: a non-retryable failure after the real step. fail-once: a retryable failure on the first attempt only. hold: wait for cancel/release. */
  mode: 'fail' | 'fail-once' | 'hold';
  /** hold only: hold before the real step runs (default: after it, so what it creates exists). */
  before?: boolean;
}

export class FaultInjector {
  plan?: FaultPlan;
  private reachedResolve?: () => void;
  private releaseResolve?: () => void;
  /** Resolves when the planned step has run and is failing or holding. */
  reached = Promise.resolve();
  hits = 0;

  arm(plan: FaultPlan): void {
    this.plan = plan;
    this.hits = 0;
    this.reached = new Promise<void>((resolve) => (this.reachedResolve = resolve));
  }

  disarm(): void {
    this.plan = undefined;
    this.releaseResolve?.();
  }

  /** Lets a held step finish normally (a cleanup step the cancel does not reach). */
  release(): void {
    this.releaseResolve?.();
  }

  private matches(ctx: Context, args: unknown[]): boolean {
    const p = this.plan;
    if (!p || ctx.info.activityType !== p.activity) return false;
    const first = (args[0] ?? {}) as Record<string, unknown>;
    return Object.entries(p.match ?? {}).every(([k, v]) => first[k] === v);
  }

  readonly factory: ActivityInterceptorsFactory = (ctx) => ({
    inbound: {
      execute: async (input, next) => {
        if (!this.matches(ctx, input.args)) return next(input);
        const plan = this.plan!;
        if (plan.mode === 'fail-once' && ctx.info.attempt > 1) return next(input);
        const result = plan.mode === 'hold' && plan.before ? undefined : await next(input);
        this.hits++;
        this.reachedResolve?.();
        if (plan.mode === 'fail') throw ApplicationFailure.nonRetryable(`injected failure after ${plan.activity}`, 'InjectedFault');
        if (plan.mode === 'fail-once') throw ApplicationFailure.retryable(`injected transient failure after ${plan.activity}`, 'InjectedTransientFault');
        const released = new Promise<void>((resolve) => (this.releaseResolve = resolve));
        const beat = setInterval(() => ctx.heartbeat(), 500);
        try {
          await Promise.race([ctx.cancelled, released]);
        } finally {
          clearInterval(beat);
        }
        return plan.before ? next(input) : result;
      },
    },
  });
}
