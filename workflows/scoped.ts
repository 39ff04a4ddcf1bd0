/** Many resources as child workflows, a few at a time: one failure neither stops nor hides the others. */
import { ChildWorkflowCancellationType, executeChild, ParentClosePolicy, workflowInfo } from '@temporalio/workflow';
import type { ScopedOutcome } from './shared/openstack-types';

/**
 * Runs `workflow` once per id (child id `<parent>/<id>`), `concurrency` at a time. Cancelling the parent cancels
 * the children and waits for them, so their undo runs (a terminated parent would skip it).
 */
export async function runChildren<I, R>(
  ids: readonly string[],
  concurrency: number,
  workflow: (input: I) => Promise<R>,
  inputFor: (id: string) => I
): Promise<ScopedOutcome<R>[]> {
  const parent = workflowInfo().workflowId;
  const outcomes: ScopedOutcome<R>[] = ids.map((id) => ({ id, workflowId: `${parent}/${id}`, ok: false }));
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < outcomes.length; i = next++) {
      const o = outcomes[i];
      if (!o) break;
      try {
        o.result = await executeChild(workflow, {
          workflowId: o.workflowId,
          args: [inputFor(o.id)],
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        });
        o.ok = true;
      } catch (err) {
        o.error = innermostMessage(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, ids.length)) }, lane));
  return outcomes;
}

/** The innermost cause of a child's failure (the activity's message, not "child workflow failed"). */
function innermostMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
