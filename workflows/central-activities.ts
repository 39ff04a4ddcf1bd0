/** Proxies for the central worker's activities (task queue `permafrost-central`): questions for Temporal itself. */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import type { CentralActivities } from '../activities/central';
import { NON_RETRYABLE_ERRORS } from './shared/errors';
import { CENTRAL_TASK_QUEUE } from './shared/queues';

export function centralActivities(): Pick<ActivityInterfaceFor<CentralActivities>, 'runningWorkflows'> {
  const { runningWorkflows } = proxyActivities<CentralActivities>({
    taskQueue: CENTRAL_TASK_QUEUE,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    scheduleToStartTimeout: '10 minutes',
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '2 minutes',
    retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS] },
  });
  return { runningWorkflows };
}
