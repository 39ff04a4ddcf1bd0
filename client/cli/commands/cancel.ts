import type { PermafrostClient } from '../../index';
import type { Output } from '../output/output';

export async function runCancel(client: PermafrostClient, workflowId: string, out: Output): Promise<void> {
  await client.cancel(workflowId);
  out.result({ workflowId, cancelRequested: true }, `cancellation requested for ${workflowId}; its cleanup runs before it closes`);
}
