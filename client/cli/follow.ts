/** Waits for a workflow's result while showing the progress its running step heartbeats. */
import type { WorkflowHandle } from '@temporalio/client';
import type { PermafrostClient } from '../index';
import { createProgressView } from './output/progress';

export interface FollowOptions {
  json: boolean;
  label: string;
}

export async function follow<T>(client: PermafrostClient, handle: WorkflowHandle, opts: FollowOptions): Promise<T> {
  const mode = opts.json ? 'silent' : process.stderr.isTTY ? 'tty' : 'lines';
  if (!opts.json) process.stderr.write(`${opts.label}: workflow ${handle.workflowId} started\n`);
  const view = createProgressView(mode, opts.label);
  let done = false;
  const result = (handle.result() as Promise<T>).finally(() => {
    done = true;
  });
  const poll = (async () => {
    while (!done) {
      try {
        const s = await client.status(handle.workflowId);
        const running = s.steps[0];
        view.update(running?.step, running?.progress);
      } catch {
        /* progress is best effort */
      }
      await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
    }
  })();
  try {
    return await result;
  } finally {
    await poll;
    view.stop();
  }
}
