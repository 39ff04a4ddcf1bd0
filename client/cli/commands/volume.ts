/**
 * Volume commands: `backup volume`, `backup volumes`, `restore volume` (through Glance into permafrost's storage),
 * and `backup volume-native`, `restore volume-native` (Cinder's own backup service).
 */
import type { Command } from 'commander';
import type { PermafrostClient, Started } from '../../index';
import type {
  BackupVolumeNativeRequest,
  BackupVolumeRequest,
  BackupVolumesRequest,
  RestoreVolumeNativeRequest,
  RestoreVolumeRequest,
} from '../../validate-openstack';
import { DEFAULT_CONCURRENCY, MAX_CONCURRENCY } from '../../validate-openstack';
import { backupId } from '../../../workflows/shared/naming';
import type {
  BackupVolumeNativeResult,
  BackupVolumeResult,
  BackupVolumesResult,
  BlobBackupStats,
  RestoreVolumeNativeResult,
  RestoreVolumeResult,
  ScopedOutcome,
  VolumeRecord,
} from '../../../workflows/shared/openstack-types';
import type { BackupRef, TargetOutcome } from '../../../workflows/shared/types';
import { addBlobBackupOptions, addPlaceOptions, addSelectionOptions, blobOf, EXIT_HELP, placeOf, selectionOf } from '../flags';
import type { BlobFlags, PlaceFlags, SelectionFlags } from '../flags';
import { follow } from '../follow';
import { formatBytes } from '../output/format';
import type { Output } from '../output/output';

/** Runs a command body with a connected client and the output of the global flags. */
export type Runner = (fn: (client: PermafrostClient, out: Output) => Promise<void>) => Promise<void>;

/** Some items of a multi-resource run failed: exit status 1 after the full report. */
export class PartialFailureError extends Error {
  override readonly name = 'PartialFailureError';
}

export interface Waiting {
  wait: boolean;
}

/**
 * The CLI's handling of a started run: with --no-wait its id is printed; else it is followed (progress on stderr) and
 * its result printed, as JSON with --json. Returns the result, or undefined when not waited for.
 */
export async function printRun<I, R extends object>(
  client: PermafrostClient,
  handle: Started<I, R>,
  wait: boolean,
  label: string,
  out: Output,
  format: (r: R) => string
): Promise<R | undefined> {
  if (!wait) {
    out.result({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId }, `started ${handle.workflowId}`);
    return undefined;
  }
  const r = await follow<R>(client, handle, { json: out.json, label });
  out.result({ workflowId: handle.workflowId, ...r }, format(r));
  return r;
}

function describeVolume(v: VolumeRecord): string {
  const traits = [
    v.volumeType ? `type ${v.volumeType}` : undefined,
    v.availabilityZone ? `zone ${v.availabilityZone}` : undefined,
    v.bootable ? 'bootable' : undefined,
    v.encrypted ? 'encrypted' : undefined,
    v.attached ? 'attached (snapshot forced: crash-consistent)' : undefined,
    Object.keys(v.metadata).length > 0 ? `metadata ${Object.keys(v.metadata).join(', ')}` : undefined,
  ].filter((t): t is string => t !== undefined);
  return `volume ${v.id}${v.name ? ` "${v.name}"` : ''}: ${v.size} GiB${traits.length > 0 ? `, ${traits.join(', ')}` : ''}`;
}

export function targetLines(targets: readonly TargetOutcome[]): string[] {
  return targets.map((t) => `  ${t.committed ? 'committed on' : 'FAILED on'} ${t.storage}${t.error ? `: ${t.error}` : ''}`);
}

export function formatBackupVolume(r: BackupVolumeResult): string {
  return [
    `backup ${backupId(r.ref)} committed`,
    `  ${describeVolume(r.volume)}`,
    `  ${formatBytes(r.stats.bytes)} read; ${formatBytes(r.stats.storedBytes)} stored in ${r.stats.segments} segments`,
    ...targetLines(r.targets),
  ].join('\n');
}

export function formatRestoreVolume(r: RestoreVolumeResult): string {
  const into = r.into === 'new' ? 'new volume' : 'existing volume (overwritten)';
  return `restored ${backupId(r.ref)} into ${into} ${r.volumeId} "${r.volumeName}" (${r.size} GiB)`;
}

/** One line per resource of a multi-resource backup, then the counts. */
export function formatScoped(
  r: { total: number; succeeded: number; failed: number },
  outcomes: readonly ScopedOutcome<{ ref: BackupRef; stats: BlobBackupStats }>[],
  noun: string
): string {
  const lines = outcomes.map((v) =>
    v.ok && v.result
      ? `ok      ${v.id}  ${backupId(v.result.ref)}  ${formatBytes(v.result.stats.bytes)} read, ${formatBytes(v.result.stats.storedBytes)} stored`
      : `FAILED  ${v.id}  ${v.error ?? 'unknown error'} (workflow ${v.workflowId})`
  );
  return [...lines, `${r.total} ${noun}: ${r.succeeded} backed up, ${r.failed} failed`].join('\n');
}

export function formatBackupVolumes(r: BackupVolumesResult): string {
  return formatScoped(r, r.volumes, 'volumes');
}

export function formatBackupVolumeNative(r: BackupVolumeNativeResult): string {
  const b = r.backup;
  return [
    `Cinder backup ${b.id} "${b.name}" of volume ${b.volumeId} is available`,
    `  ${b.incremental ? `incremental on ${b.parentId ?? 'the previous backup'}` : 'full'}, ${b.size} GiB volume, created ${b.createdAt}`,
    r.rotated.length > 0 ? `  rotated out (deleted): ${r.rotated.join(', ')}` : '  nothing rotated out',
  ].join('\n');
}

export function formatRestoreVolumeNative(r: RestoreVolumeNativeResult): string {
  const into = r.into === 'new' ? 'new volume' : 'existing volume (overwritten)';
  return `restored Cinder backup ${r.backupId} into ${into} ${r.volumeId} "${r.volumeName}"`;
}

export async function runBackupVolume(client: PermafrostClient, req: BackupVolumeRequest & Waiting, out: Output): Promise<void> {
  await printRun(client, await client.startBackupVolume(req), req.wait, 'backup', out, formatBackupVolume);
}

export async function runRestoreVolume(client: PermafrostClient, req: RestoreVolumeRequest & Waiting, out: Output): Promise<void> {
  await printRun(client, await client.startRestoreVolume(req), req.wait, 'restore', out, formatRestoreVolume);
}

export async function runBackupVolumes(client: PermafrostClient, req: BackupVolumesRequest & Waiting, out: Output): Promise<void> {
  const r = await printRun(client, await client.startBackupVolumes(req), req.wait, 'backup volumes', out, formatBackupVolumes);
  if (r && r.failed > 0) throw new PartialFailureError(`${r.failed} of ${r.total} volume backups failed`);
}

export async function runBackupVolumeNative(client: PermafrostClient, req: BackupVolumeNativeRequest & Waiting, out: Output): Promise<void> {
  await printRun(client, await client.startBackupVolumeNative(req), req.wait, 'cinder backup', out, formatBackupVolumeNative);
}

export async function runRestoreVolumeNative(client: PermafrostClient, req: RestoreVolumeNativeRequest & Waiting, out: Output): Promise<void> {
  await printRun(client, await client.startRestoreVolumeNative(req), req.wait, 'cinder restore', out, formatRestoreVolumeNative);
}

export function addVolumeCommands(backup: Command, restore: Command, run: Runner): void {
  addBlobBackupOptions(
    addPlaceOptions(
      backup
        .command('volume')
        .description('back up a Cinder volume (snapshot -> image -> storage) as volume_<name>/<timestamp>')
        .argument('<volume-id>', 'the volume (attached ones too: the snapshot is forced, crash-consistent)')
        .option('--name <name>', 'backup name (default: the volume id)')
    )
  )
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', EXIT_HELP)
    .action(async (volumeId: string, o: PlaceFlags & BlobFlags & Waiting & { name?: string }) => {
      await run((client, out) => runBackupVolume(client, { volumeId, name: o.name, ...placeOf(o), ...blobOf(o), wait: o.wait }, out));
    });

  addBlobBackupOptions(
    addPlaceOptions(
      backup
        .command('volumes')
        .description('back up many volumes, each as volume_<volume-id>/<timestamp>; one failure does not stop the others')
        .argument('[volume-ids...]', 'these volumes')
        .option('--project', 'every volume of the project the credentials are scoped to')
        .option('--all-tenants', 'every volume of every project (admin credentials)')
        .option('--concurrency <n>', `volumes backed up at once (1 to ${MAX_CONCURRENCY})`, String(DEFAULT_CONCURRENCY))
    )
  )
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', `\nOne line per volume; the exit status is 1 when any volume failed.${EXIT_HELP}`)
    .action(async (volumeIds: string[], o: PlaceFlags & BlobFlags & Waiting & { project?: boolean; allTenants?: boolean; concurrency: string }) => {
      await run((client, out) =>
        runBackupVolumes(
          client,
          { volumeIds, project: o.project, allTenants: o.allTenants, concurrency: o.concurrency, ...placeOf(o), ...blobOf(o), wait: o.wait },
          out
        )
      );
    });

  addPlaceOptions(
    backup
      .command('volume-native')
      .description("back up a volume with Cinder's own backup service (incremental when a full backup exists)")
      .argument('<volume-id>', 'the volume')
      .option('--full', 'a full backup even when an incremental one is possible')
      .option('--keep <n>', 'keep the n newest backups permafrost made of this volume (and what they depend on); delete older ones')
      .option('--container <name>', "Cinder backup container (default: the backup backend's)")
  )
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', EXIT_HELP)
    .action(async (volumeId: string, o: PlaceFlags & Waiting & { full?: boolean; keep?: string; container?: string }) => {
      await run((client, out) =>
        runBackupVolumeNative(client, { volumeId, full: o.full, keep: o.keep, container: o.container, ...placeOf(o), wait: o.wait }, out)
      );
    });

  addSelectionOptions(
    addPlaceOptions(
      restore
        .command('volume')
        .description('restore a volume backup as a new volume (or over an existing detached one)')
        .argument('<backup>', 'backup name (the volume id by default), or volume_<name>/<timestamp> as `list --host volume` shows it')
        .option('--target-volume <id>', 'overwrite this existing, detached volume instead of creating one')
        .option('--volume-name <name>', 'name of the new volume (default: <original name>~<backup time>)')
        .option('--volume-type <type>', "volume type of the new volume (default: the original's)")
        .option('--availability-zone <zone>', "availability zone of the new volume (default: the original's)")
    )
  )
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', EXIT_HELP)
    .action(
      async (backupArg: string, o: PlaceFlags & SelectionFlags & Waiting & { targetVolume?: string; volumeName?: string; volumeType?: string; availabilityZone?: string }) => {
        await run((client, out) =>
          runRestoreVolume(
            client,
            {
              ...selectionOf(backupArg, o),
              ...placeOf(o),
              targetVolumeId: o.targetVolume,
              volumeName: o.volumeName,
              volumeType: o.volumeType,
              availabilityZone: o.availabilityZone,
              wait: o.wait,
            },
            out
          )
        );
      }
    );

  addPlaceOptions(
    restore
      .command('volume-native')
      .description("restore a Cinder backup (Cinder's own backup service) into a new or an existing volume")
      .argument('<cinder-backup-id>', 'the Cinder backup')
      .option('--target-volume <id>', 'restore into this existing, available volume instead of a new one')
      .option('--volume-name <name>', 'name of the new volume')
  )
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', EXIT_HELP)
    .action(async (backupId: string, o: PlaceFlags & Waiting & { targetVolume?: string; volumeName?: string }) => {
      await run((client, out) =>
        runRestoreVolumeNative(client, { backupId, targetVolumeId: o.targetVolume, volumeName: o.volumeName, ...placeOf(o), wait: o.wait }, out)
      );
    });
}
