/** Runs an activity in a MockActivityEnvironment with its own argument and result types. */
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';

/** A fresh environment whose logger stays quiet about the failures tests expect. */
export function mockEnv(info?: ConstructorParameters<typeof MockActivityEnvironment>[0]): MockActivityEnvironment {
  return new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
}

export function runActivity<F extends (...args: never[]) => Promise<unknown>>(env: MockActivityEnvironment, fn: F, ...args: Parameters<F>): ReturnType<F> {
  return env.run(fn as never, ...(args as never[])) as ReturnType<F>;
}
