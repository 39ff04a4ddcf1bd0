/** The storage side of the workflows: undo of uncommitted data, the verdict of a fan-out, the choice of a backup to restore. */
import { ApplicationFailure } from '@temporalio/workflow';
import type { nodeActivities } from './node-activities';
import type { Cleanup } from './shared/cleanup';
import { backupId } from './shared/naming';
import { formatStorage } from './shared/storage-url';
import type { BackupSelector } from './shared/openstack-types';
import type { BackupKindName, BackupRef, BackupSummary, StorageTarget, TargetOutcome } from './shared/types';

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

/**
 * The first two steps of every OpenStack restore: choose the backup (exact, by date, or newest; its key checked) and
 * read the resource record it holds. `R` is the record type the backup kind carries.
 */
export async function chooseStoredBackup<R>(
  node: ReturnType<typeof nodeActivities>,
  selector: BackupSelector,
  host: string,
  kind: BackupKindName
): Promise<{ chosen: BackupSummary; ref: BackupRef; record: R }> {
  const chosen = await node.selectBlobBackup.executeWithOptions({ summary: `choose the backup of ${selector.name}` }, [{ ...selector, host, kind }]);
  const ref = chosen.ref;
  const record = (await node.readBackupRecord.executeWithOptions({ summary: `read the record of ${backupId(ref)}` }, [{ storage: selector.storage, ref }])) as unknown as R;
  return { chosen, ref, record };
}
