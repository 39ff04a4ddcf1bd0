/** The storage side of every backup workflow: undo of uncommitted data, and the verdict of a fan-out. */
import { ApplicationFailure } from '@temporalio/workflow';
import type { nodeActivities } from './node-activities';
import type { Cleanup } from './shared/cleanup';
import { backupId } from './shared/naming';
import { formatStorage } from './shared/storage-url';
import type { BackupRef, StorageTarget, TargetOutcome } from './shared/types';

/** Registers, for every target, the removal of the backup's data should it end uncommitted. */
export function discardUncommittedOnExit(cleanup: Cleanup, node: ReturnType<typeof nodeActivities>, targets: readonly StorageTarget[], ref: BackupRef): void {
  for (const storage of targets) {
    cleanup.push('discard uncommitted backup data', () =>
      node.discardUncommittedBackup.executeWithOptions({ summary: `discard uncommitted data of ${backupId(ref)} in ${formatStorage(storage)}` }, [{ storage, ref }])
    );
  }
}

/** A fan-out that lost a target is never reported as a plain success. */
export function failOnLostTargets(ref: BackupRef, outcomes: readonly TargetOutcome[], details: unknown): void {
  const failed = outcomes.filter((t) => !t.committed);
  if (failed.length === 0) return;
  const ok = outcomes.filter((t) => t.committed).map((t) => t.storage);
  throw ApplicationFailure.nonRetryable(
    `backup ${backupId(ref)} committed on ${ok.join(', ')}; FAILED on ${failed.map((f) => `${f.storage} (${f.error ?? 'unknown error'})`).join(', ')}`,
    'PartialBackupError',
    details
  );
}
