/** Image commands: `backup image` (Glance image -> storage) and `restore image` (storage -> a new Glance image). */
import type { Command } from 'commander';
import type { PermafrostClient } from '../../index';
import type { BackupImageRequest, RestoreImageRequest } from '../../validate-openstack';
import { backupId } from '../../../workflows/shared/naming';
import type { BackupImageResult, ImageRecord, RestoreImageResult } from '../../../workflows/shared/openstack-types';
import { addBlobBackupOptions, addPlaceOptions, addSelectionOptions, blobOf, EXIT_HELP, placeOf, selectionOf } from '../flags';
import type { BlobFlags, PlaceFlags, SelectionFlags } from '../flags';
import { formatBytes } from '../output/format';
import type { Output } from '../output/output';
import { printRun, targetLines } from './volume';
import type { Runner } from './volume';

function describeImage(i: ImageRecord): string {
  const traits = [
    [i.diskFormat, i.containerFormat].filter(Boolean).join('/') || undefined,
    i.visibility,
    i.protected ? 'protected' : undefined,
    i.tags.length > 0 ? `tags ${i.tags.join(', ')}` : undefined,
    Object.keys(i.properties).length > 0 ? `${Object.keys(i.properties).length} properties` : undefined,
  ].filter((t): t is string => t !== undefined && t !== '');
  return `image ${i.id}${i.name ? ` "${i.name}"` : ''}: ${formatBytes(i.size)}${traits.length > 0 ? `, ${traits.join(', ')}` : ''}`;
}

export function formatBackupImage(r: BackupImageResult): string {
  return [
    `backup ${backupId(r.ref)} committed`,
    `  ${describeImage(r.image)}`,
    `  ${formatBytes(r.stats.bytes)} read; ${formatBytes(r.stats.storedBytes)} stored in ${r.stats.segments} segments`,
    ...targetLines(r.targets),
  ].join('\n');
}

export function formatRestoreImage(r: RestoreImageResult): string {
  return `restored ${backupId(r.ref)} into new image ${r.imageId} "${r.imageName}" (${formatBytes(r.size)})`;
}

export async function runBackupImage(client: PermafrostClient, req: BackupImageRequest & { wait: boolean }, out: Output): Promise<void> {
  await printRun(client, await client.startBackupImage(req), req.wait, 'backup', out, formatBackupImage);
}

export async function runRestoreImage(client: PermafrostClient, req: RestoreImageRequest & { wait: boolean }, out: Output): Promise<void> {
  await printRun(client, await client.startRestoreImage(req), req.wait, 'restore', out, formatRestoreImage);
}

export function addImageCommands(backup: Command, restore: Command, run: Runner): void {
  addBlobBackupOptions(
    addPlaceOptions(
      backup
        .command('image')
        .description('back up a Glance image (its bytes, formats, properties) as image_<name>/<timestamp>')
        .argument('<image-id>', 'the image')
        .option('--name <name>', 'backup name (default: the image id)')
    )
  )
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', EXIT_HELP)
    .action(async (imageId: string, o: PlaceFlags & BlobFlags & { wait: boolean; name?: string }) => {
      await run((client, out) => runBackupImage(client, { imageId, name: o.name, ...placeOf(o), ...blobOf(o), wait: o.wait }, out));
    });

  addSelectionOptions(
    addPlaceOptions(
      restore
        .command('image')
        .description('restore an image backup as a new Glance image with the original formats, tags and properties')
        .argument('<backup>', 'backup name (the image id by default), or image_<name>/<timestamp> as `list --host image` shows it')
        .option('--image-name <name>', 'name of the new image (default: <original name>~<backup time>)')
    )
  )
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', EXIT_HELP)
    .action(async (backupArg: string, o: PlaceFlags & SelectionFlags & { wait: boolean; imageName?: string }) => {
      await run((client, out) => runRestoreImage(client, { ...selectionOf(backupArg, o), ...placeOf(o), imageName: o.imageName, wait: o.wait }, out));
    });
}
