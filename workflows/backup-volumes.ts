import { executeChild, ParentClosePolicy, ChildWorkflowCancellationType, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { backupVolume } from './backup-volume';
import { nodeActivities } from './node-activities';
import { placeOf } from './shared/openstack-place';
import type { BackupVolumeResult, BackupVolumesInput, BackupVolumesResult, ScopedOutcome } from './shared/openstack-types';
import { BackupKind, BackupNode, BackupResource } from './shared/search-attributes';

/**
 * Backs up many volumes (a list, the project's, every project's) as child workflows, `concurrency` at a time. One
 * failure neither stops nor hides the others: the result reports every volume (the CLI exits non-zero when one
 * failed). Cancelling the parent cancels the children, whose undo runs (never terminate: that skips it).
 */
export async function backupVolumes(input: BackupVolumesInput): Promise<BackupVolumesResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'volumes' },
    { key: BackupNode, value: input.node },
    { key: BackupResource, value: input.scope.kind === 'list' ? input.scope.volumeIds.join(',') : input.scope.kind },
  ]);
  const node = nodeActivities(input.node);
  const { scope, concurrency, ...rest } = input;
  const ids = await node.listVolumeIds.executeWithOptions({ summary: `list volumes (${scope.kind})` }, [{ ...placeOf(input), scope }]);
  const parent = workflowInfo().workflowId;
  const outcomes: ScopedOutcome<BackupVolumeResult>[] = ids.map((id) => ({ id, workflowId: `${parent}/${id}`, ok: false }));
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < outcomes.length; i = next++) {
      const o = outcomes[i];
      if (!o) break;
      try {
        o.result = await executeChild(backupVolume, {
          workflowId: o.workflowId,
          args: [{ ...rest, volumeId: o.id }],
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        });
        o.ok = true;
      } catch (err) {
        o.error = errorMessage(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency ?? 2, ids.length)) }, lane));
  const failed = outcomes.filter((o) => !o.ok).length;
  return { total: outcomes.length, succeeded: outcomes.length - failed, failed, volumes: outcomes };
}

/** The innermost cause of a child's failure (the activity's message, not "child workflow failed"). */
function errorMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
