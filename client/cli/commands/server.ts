/**
 * Nova server commands: `backup server`, `backup servers` and `restore server`. A server backup is the server's record
 * (`server_<name>/<timestamp>`) plus one blob backup per disk (`server_<name>.root/...`, `server_<name>.vol-<i>/...`).
 */
import type { Command } from 'commander';
import type { PermafrostClient } from '../../index';
import type { BackupServerRequest, BackupServersRequest, RestoreServerRequest } from '../../validate-openstack';
import { DEFAULT_CONCURRENCY, MAX_CONCURRENCY } from '../../validate-openstack';
import { backupId } from '../../../workflows/shared/naming';
import type { BackupServerResult, BackupServersResult, RestoreServerResult, ServerDisk, ServerRecord } from '../../../workflows/shared/openstack-types';
import { addBlobBackupOptions, addPlaceOptions, addSelectionOptions, blobOf, collect, EXIT_HELP, placeOf, selectionOf } from '../flags';
import type { BlobFlags, PlaceFlags, SelectionFlags } from '../flags';
import { formatBytes } from '../output/format';
import type { Output } from '../output/output';
import { formatScoped, PartialFailureError, printRun, targetLines } from './volume';
import type { Runner, Waiting } from './volume';

const GiB = 1024 ** 3;

function describeServer(s: ServerRecord): string {
  const f = s.flavor;
  const traits = [
    `flavor ${f.name} (${f.vcpus} vCPU, ${f.ram} MiB RAM, ${f.disk} GiB disk)`,
    s.bootFromVolume ? 'volume-booted' : 'image-booted',
    s.networks.length > 0 ? `networks ${s.networks.map((n) => (n.fixedIps.length > 0 ? `${n.name} (${n.fixedIps.join(', ')})` : n.name)).join(', ')}` : 'no networks',
    s.securityGroups.length > 0 ? `security groups ${s.securityGroups.join(', ')}` : undefined,
    s.keyName ? `key ${s.keyName}` : undefined,
    s.availabilityZone ? `zone ${s.availabilityZone}` : undefined,
    Object.keys(s.metadata).length > 0 ? `metadata ${Object.keys(s.metadata).join(', ')}` : undefined,
    s.tags.length > 0 ? `tags ${s.tags.join(', ')}` : undefined,
  ].filter((t): t is string => t !== undefined);
  return `server ${s.id}${s.name ? ` "${s.name}"` : ''}: ${traits.join(', ')}`;
}

/** Size of a disk as backed up: the root image's bytes, or the volume's size. */
function diskBytes(d: ServerDisk): number | undefined {
  if (d.role === 'root') return d.image?.size;
  return d.volume ? d.volume.size * GiB : undefined;
}

function diskLine(d: ServerDisk): string {
  const bytes = diskBytes(d);
  const what = d.volume ? `volume ${d.volume.id}${d.volume.name ? ` "${d.volume.name}"` : ''}` : 'root disk';
  const boot = d.bootIndex === 0 ? ', boot disk' : '';
  return `  disk ${d.role.padEnd(6)} ${(d.device ?? '-').padEnd(9)} ${(bytes === undefined ? '?' : formatBytes(bytes)).padStart(10)}  ${backupId(d.ref)}  (${what}${boot})`;
}

export function formatBackupServer(r: BackupServerResult): string {
  return [
    `backup ${backupId(r.ref)} committed`,
    `  ${describeServer(r.server)}`,
    ...r.server.disks.map(diskLine),
    `  ${r.server.disks.length} disk(s): ${formatBytes(r.stats.bytes)} read; ${formatBytes(r.stats.storedBytes)} stored in ${r.stats.segments} segments`,
    ...targetLines(r.targets),
  ].join('\n');
}

export function formatRestoreServer(r: RestoreServerResult): string {
  return [
    `restored ${backupId(r.ref)} as server ${r.serverId} "${r.serverName}" (ACTIVE)`,
    ...(r.volumes.length > 0 ? r.volumes.map((v) => `  volume ${v.volumeId} "${v.name}"`) : ['  no volumes (image-booted, no data volumes)']),
  ].join('\n');
}

export function formatBackupServers(r: BackupServersResult): string {
  return formatScoped(r, r.servers, 'servers');
}

export async function runBackupServer(client: PermafrostClient, req: BackupServerRequest & Waiting, out: Output): Promise<void> {
  await printRun(client, await client.startBackupServer(req), req.wait, 'backup', out, formatBackupServer);
}

export async function runRestoreServer(client: PermafrostClient, req: RestoreServerRequest & Waiting, out: Output): Promise<void> {
  await printRun(client, await client.startRestoreServer(req), req.wait, 'restore', out, formatRestoreServer);
}

export async function runBackupServers(client: PermafrostClient, req: BackupServersRequest & Waiting, out: Output): Promise<void> {
  const r = await printRun(client, await client.startBackupServers(req), req.wait, 'backup servers', out, formatBackupServers);
  if (r && r.failed > 0) throw new PartialFailureError(`${r.failed} of ${r.total} server backups failed`);
}

const IDLE_HELP = 'longest wait for the server to have no task (a snapshot, resize ...) before the snapshot, e.g. 30m';

interface RestoreServerFlags extends PlaceFlags, SelectionFlags, Waiting {
  serverName?: string;
  network?: string[];
  flavor?: string;
  keyName?: string;
  availabilityZone?: string;
}

export function addServerCommands(backup: Command, restore: Command, run: Runner): void {
  addBlobBackupOptions(
    addPlaceOptions(
      backup
        .command('server')
        .description('back up a Nova server (its record and every disk: root disk, attached volumes) as server_<name>/<timestamp>')
        .argument('<server-id>', 'the server (running ones too: the snapshot is crash-consistent)')
        .option('--name <name>', 'backup name (default: the server id); each disk is stored as <name>.root or <name>.vol-<i>')
        .option('--idle-timeout <duration>', IDLE_HELP)
    )
  )
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', EXIT_HELP)
    .action(async (serverId: string, o: PlaceFlags & BlobFlags & Waiting & { name?: string; idleTimeout?: string }) => {
      await run((client, out) => runBackupServer(client, { serverId, name: o.name, idleTimeout: o.idleTimeout, ...placeOf(o), ...blobOf(o), wait: o.wait }, out));
    });

  addBlobBackupOptions(
    addPlaceOptions(
      backup
        .command('servers')
        .description('back up many servers, each as server_<server-id>/<timestamp>; one failure does not stop the others')
        .argument('[server-ids...]', 'these servers')
        .option('--project', 'every server of the project the credentials are scoped to')
        .option('--all-tenants', 'every server of every project (admin credentials)')
        .option('--concurrency <n>', `servers backed up at once (1 to ${MAX_CONCURRENCY})`, String(DEFAULT_CONCURRENCY))
        .option('--idle-timeout <duration>', IDLE_HELP)
    )
  )
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', `\nOne line per server; the exit status is 1 when any server failed.${EXIT_HELP}`)
    .action(async (serverIds: string[], o: PlaceFlags & BlobFlags & Waiting & { project?: boolean; allTenants?: boolean; concurrency: string; idleTimeout?: string }) => {
      await run((client, out) =>
        runBackupServers(
          client,
          {
            serverIds,
            project: o.project,
            allTenants: o.allTenants,
            concurrency: o.concurrency,
            idleTimeout: o.idleTimeout,
            ...placeOf(o),
            ...blobOf(o),
            wait: o.wait,
          },
          out
        )
      );
    });

  addSelectionOptions(
    addPlaceOptions(
      restore
        .command('server')
        .description('restore a server backup as a new server with new volumes (recorded flavor, networks, key, metadata) and wait until ACTIVE')
        .argument('<backup>', 'backup name (the server id by default), or server_<name>/<timestamp> as `list --host server` shows it')
        .option('--server-name <name>', 'name of the new server (default: <original name>~<backup time>)')
        .option('--network <recorded=target>', 'attach network <target> (name or id; none: leave it out) instead of the recorded network <recorded>; repeatable', collect)
        .option('--flavor <name|id>', 'boot with this flavor instead of the recorded one')
        .option('--key-name <name|none>', 'key pair instead of the recorded one (none: without a key pair)')
        .option('--availability-zone <zone>', "availability zone of the new server (default: Nova's choice)")
    )
  )
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', EXIT_HELP)
    .action(async (backupArg: string, o: RestoreServerFlags) => {
      await run((client, out) =>
        runRestoreServer(
          client,
          {
            ...selectionOf(backupArg, o),
            ...placeOf(o),
            serverName: o.serverName,
            networkMap: o.network,
            flavor: o.flavor,
            keyName: o.keyName,
            availabilityZone: o.availabilityZone,
            wait: o.wait,
          },
          out
        )
      );
    });
}
