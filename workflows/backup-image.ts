import { upsertSearchAttributes } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { backupId, formatBackupTimestamp } from './shared/naming';
import { blobOptions, IMAGE_HOST, placeOf } from './shared/openstack-place';
import type { BackupImageInput, BackupImageResult } from './shared/openstack-types';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { formatStorage } from './shared/storage-url';
import type { BackupRef } from './shared/types';
import { discardUncommittedOnExit, failOnLostTargets } from './targets';

/** Backs up a Glance image: its data through the storage pipeline, and everything a restore needs to re-create it. */
export async function backupImage(input: BackupImageInput): Promise<BackupImageResult> {
  const name = input.name ?? input.imageId;
  upsertSearchAttributes([
    { key: BackupKind, value: 'image' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: name },
    { key: BackupResource, value: input.imageId },
  ]);
  const node = nodeActivities(input.node);
  const place = placeOf(input);
  const targets = [input.storage, ...(input.copies ?? [])];
  const ref: BackupRef = { host: IMAGE_HOST, name, timestamp: formatBackupTimestamp(new Date()) };
  const image = await node.describeImage.executeWithOptions({ summary: `check image ${input.imageId}` }, [{ ...place, imageId: input.imageId }]);
  return withCleanup(async (cleanup) => {
    discardUncommittedOnExit(cleanup, node, targets, ref);
    const stored = await node.streamImageToStorage.executeWithOptions(
      { summary: `stream image ${input.imageId} to ${targets.map(formatStorage).join(' + ')} as ${backupId(ref)}` },
      [{ ...place, imageId: input.imageId, storage: input.storage, ...(input.copies ? { copies: input.copies } : {}), ...blobOptions(input), ref, kind: 'image', resource: image }]
    );
    const result: BackupImageResult = { ref, image, stats: stored.stats, targets: stored.targets };
    failOnLostTargets(ref, stored.targets, result);
    return result;
  });
}
