/** Task queue names: written once here, used by workers, workflows and the client. */

/** Queue of the central workers: workflows and orchestration activities. */
export const CENTRAL_TASK_QUEUE = 'permafrost-central';

const NODE_QUEUE_PREFIX = 'permafrost-node-';

/** Queue served by the worker on `node`, for activities that touch that node's disks and streams. */
export function nodeTaskQueue(node: string): string {
  return `${NODE_QUEUE_PREFIX}${node}`;
}
