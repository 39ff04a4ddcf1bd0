/** Proxies for the activities of one node, grouped by timeout profile. */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import type { NodeActivities } from '../activities';
import { NON_RETRYABLE_ERRORS } from './shared/errors';
import { nodeTaskQueue } from './shared/queues';

const NON_RETRYABLE = [...NON_RETRYABLE_ERRORS];

// Cleanup must start only once a cancelled step has really stopped writing. The SDK documents this as the default,
// but 1.24 sends an unset cancellationType as TRY_CANCEL (proto 0): the undo then races the still-running upload.
const waitForCancel = { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };

// A node queue dies with its worker: scheduleToStart bounds how long a step waits for a dead node.
const quick: ActivityOptions = {
  ...waitForCancel,
  scheduleToStartTimeout: '10 minutes',
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
};

// Long transfers: heartbeats (at least every 5 s) carry progress and deliver cancellation; a worker silent for 30 s
// is dead, and the retry resumes on the restarted node worker.
const transfer: ActivityOptions = {
  ...waitForCancel,
  scheduleToStartTimeout: '10 minutes',
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '10s', maximumInterval: '5 minutes', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
};

// Undo steps retry for an hour; after that the sweeper owns the leftovers.
const cleanup: ActivityOptions = {
  ...waitForCancel,
  scheduleToCloseTimeout: '1 hour',
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5s', maximumInterval: '2 minutes', nonRetryableErrorTypes: ['InvalidInputError'] },
};

// Retention and GC: many small removals and listings of a whole storage; heartbeats show they are alive. A refused
// deletion (BackupHasDependentsError) is final.
const maintenance: ActivityOptions = {
  ...waitForCancel,
  scheduleToStartTimeout: '10 minutes',
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '5s', maximumInterval: '2 minutes', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
};

// OpenStack steps that create something and wait for it: the wait has its own (configurable) timeout and polls at
// least every 2 s with a heartbeat; a dead worker is noticed after 1 minute and the step retried (it finds what it
// created by name instead of creating it twice).
const openstack: ActivityOptions = {
  ...waitForCancel,
  scheduleToStartTimeout: '10 minutes',
  startToCloseTimeout: '7 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
};

export function nodeActivities(node: string) {
  const taskQueue = nodeTaskQueue(node);
  const { planFsBackup, selectBackup, planRestore, listStoredBackups, describeStorage } = proxyActivities<NodeActivities>({ ...quick, taskQueue });
  const { backupFilesystem, restoreFilesystem, verifyStoredBackup } = proxyActivities<NodeActivities>({ ...transfer, taskQueue });
  const { discardUncommittedBackup, discardRestoreStaging } = proxyActivities<NodeActivities>({ ...cleanup, taskQueue });
  const { deleteBackup, findUncommitted, removeUncommitted } = proxyActivities<NodeActivities>({ ...maintenance, taskQueue });
  const { listVolumeIds, describeVolume, describeImage, selectBlobBackup, readBackupRecord, checkRestoreTarget, finishRestoredVolume, finishRestoredImage } =
    proxyActivities<NodeActivities>({ ...quick, taskQueue });
  const { createTemporarySnapshot, createVolumeFromSnapshot, uploadVolumeToImage, createVolumeFromImage, reimageVolume } = proxyActivities<NodeActivities>({
    ...openstack,
    taskQueue,
  });
  const { streamImageToStorage, uploadBackupToImage } = proxyActivities<NodeActivities>({ ...transfer, taskQueue });
  const { deleteTemporaries } = proxyActivities<NodeActivities>({ ...cleanup, taskQueue });
  const { listManagedBackups, prepareNativeRestore, finishNativeRestore } = proxyActivities<NodeActivities>({ ...quick, taskQueue });
  const { createNativeBackup, deleteNativeBackup, restoreNativeBackup } = proxyActivities<NodeActivities>({ ...openstack, taskQueue });
  const { discardNativeRestore } = proxyActivities<NodeActivities>({ ...cleanup, taskQueue });
  // The orphan sweep: listings of a whole project (or cloud) and many deletions, each heartbeating while it waits.
  const { findOrphanCandidates, deleteOrphans } = proxyActivities<NodeActivities>({ ...maintenance, taskQueue });
  const { listServerIds, describeSnapshotImage, commitServerBackup, planServerRestore, finishRestoredServer } = proxyActivities<NodeActivities>({ ...quick, taskQueue });
  const { describeServer, createServerSnapshot, createRestoredServer } = proxyActivities<NodeActivities>({ ...openstack, taskQueue });
  const { deleteServerSnapshot } = proxyActivities<NodeActivities>({ ...cleanup, taskQueue });
  return {
    listServerIds,
    describeSnapshotImage,
    commitServerBackup,
    planServerRestore,
    finishRestoredServer,
    describeServer,
    createServerSnapshot,
    createRestoredServer,
    deleteServerSnapshot,
    listVolumeIds,
    describeVolume,
    describeImage,
    selectBlobBackup,
    readBackupRecord,
    checkRestoreTarget,
    finishRestoredVolume,
    finishRestoredImage,
    createTemporarySnapshot,
    createVolumeFromSnapshot,
    uploadVolumeToImage,
    createVolumeFromImage,
    reimageVolume,
    streamImageToStorage,
    uploadBackupToImage,
    deleteTemporaries,
    listManagedBackups, prepareNativeRestore, finishNativeRestore, createNativeBackup, deleteNativeBackup, restoreNativeBackup, discardNativeRestore,
    findOrphanCandidates,
    deleteOrphans,
    planFsBackup,
    selectBackup,
    planRestore,
    listStoredBackups,
    describeStorage,
    backupFilesystem,
    restoreFilesystem,
    verifyStoredBackup,
    discardUncommittedBackup,
    discardRestoreStaging,
    deleteBackup,
    findUncommitted,
    removeUncommitted,
  };
}
