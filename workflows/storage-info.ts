import { nodeActivities } from './node-activities';
import type { StorageInfoInput, StorageInfoResult } from './shared/types';

/** Backups per host and name, with sizes and segment counts, read by the node that can reach the storage. */
export async function storageInfo(input: StorageInfoInput): Promise<StorageInfoResult> {
  return nodeActivities(input.node).describeStorage(input);
}
