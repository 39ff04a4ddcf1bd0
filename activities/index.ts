/** Activity factories, named by the queue they serve. Workflows import only their types. */
import { createFsActivities } from './filesystem';
import type { FsActivityDeps } from './filesystem';
import { withFailureMapping } from './failures';
import { createInspectActivities } from './inspect';
import { createRetentionActivities } from './retention';

export type NodeActivityDeps = FsActivityDeps;

/** Activities served on `permafrost-node-<host>`: everything that touches this node's disks and streams. */
export function createNodeActivities(deps: NodeActivityDeps) {
  return withFailureMapping({ ...createFsActivities(deps), ...createInspectActivities(deps), ...createRetentionActivities(deps) });
}

export type NodeActivities = ReturnType<typeof createNodeActivities>;
