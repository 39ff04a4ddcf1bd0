import { upsertSearchAttributes } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { withCleanup } from './shared/cleanup';
import { backupId } from './shared/naming';
import { IMAGE_HOST, placeOf, selectorOf } from './shared/openstack-place';
import type { ImageRecord, RestoreImageInput, RestoreImageResult } from './shared/openstack-types';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { restoredName } from './shared/temporaries';
import { chooseStoredBackup } from './targets';

/**
 * Restores an image backup as a new image (`<name>~<backup time>`) with the original's formats, visibility, tags,
 * min_disk/min_ram and properties; protected last. A failed or cancelled restore deletes the image it was making.
 */
export async function restoreImage(input: RestoreImageInput): Promise<RestoreImageResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'image-restore' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.name },
    { key: BackupResource, value: input.name },
  ]);
  const node = nodeActivities(input.node);
  const place = placeOf(input);
  const selector = selectorOf(input);
  const { ref, record } = await chooseStoredBackup<ImageRecord>(node, selector, IMAGE_HOST, 'image');
  const imageName = input.imageName ?? restoredName(record.name || record.id, ref.timestamp);
  return withCleanup(async (cleanup) => {
    // Until the restore has finished, a failure or cancel deletes the image it was making (and only that one).
    let finished = false;
    cleanup.push('delete unfinished restored image', async () => {
      if (finished) return;
      await node.deleteTemporaries.executeWithOptions({ summary: `delete unfinished image ${imageName}` }, [{ ...place, kind: 'image', name: imageName }]);
    });
    const { imageId, size } = await node.uploadBackupToImage.executeWithOptions({ summary: `upload ${backupId(ref)} as image ${imageName}` }, [
      { ...place, ...selector, ref, imageName, record, temporary: false },
    ]);
    await node.finishRestoredImage.executeWithOptions({ summary: `finish image ${imageId}` }, [{ ...place, imageId, record }]);
    finished = true;
    return { ref, imageId, imageName, size };
  });
}
