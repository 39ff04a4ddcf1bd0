import { nodeActivities } from './node-activities';
import type { BackupSummary, ListBackupsInput } from './shared/types';

/** Lists committed backups of a storage, read by the node that can reach it. */
export async function listBackups(input: ListBackupsInput): Promise<BackupSummary[]> {
  return nodeActivities(input.node).listStoredBackups(input);
}
