/** Activity factories, named by the queue they serve. Workflows import only their types. */
import { createFsActivities } from './filesystem';
import type { FsActivityDeps } from './filesystem';
import { withFailureMapping } from './failures';
import { createInspectActivities } from './inspect';
import { createRetentionActivities } from './retention';
import { createServerActivities } from './servers';
import { createSweepActivities } from './sweep';
import { createNativeBackupActivities } from './native-backup';
import { createVolumeActivities } from './volumes';
import type { VolumeActivityDeps } from './volumes';

export type NodeActivityDeps = FsActivityDeps & VolumeActivityDeps;

/** Activities served on `permafrost-node-<host>`: everything that touches this node's disks, streams and clouds. */
export function createNodeActivities(deps: NodeActivityDeps) {
  return withFailureMapping({
    ...createFsActivities(deps),
    ...createInspectActivities(deps),
    ...createRetentionActivities(deps),
    ...createVolumeActivities(deps),
    ...createSweepActivities(deps),
    ...createNativeBackupActivities(deps),
    ...createServerActivities(deps),
  });
}

export type NodeActivities = ReturnType<typeof createNodeActivities>;
