import { upsertSearchAttributes } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { backupId } from './shared/naming';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { formatStorage } from './shared/storage-url';
import type { VerifyBackupInput, VerifyBackupResult } from './shared/types';

/** Re-reads a stored backup end to end: every segment's hash, decryption with the key, and the archive itself. */
export async function verifyBackup(input: VerifyBackupInput): Promise<VerifyBackupResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'verify' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.ref.name },
    { key: BackupResource, value: backupId(input.ref) },
  ]);
  return nodeActivities(input.node).verifyStoredBackup.executeWithOptions(
    { summary: `verify ${backupId(input.ref)} in ${formatStorage(input.storage)}` },
    [input]
  );
}
