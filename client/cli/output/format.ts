/** Human-readable numbers and tables for the CLI. */
import Table from 'cli-table3';
import { SERVER_HOST } from '../../../workflows/shared/openstack-place';
import type { BackupSummary } from '../../../workflows/shared/types';
import { SERVER_DISK_SUFFIX } from '../../validate-openstack';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Volume and image backups: the OpenStack resource backed up, `"name" (id)`. */
function resourceOf(b: BackupSummary): string {
  if (!b.resource) return '-';
  return b.resource.name ? `${b.resource.type} "${b.resource.name}" (${b.resource.id})` : `${b.resource.type} ${b.resource.id}`;
}

/** A disk of a server backup (`server_<name>.root/...`, `server_<name>.vol-<i>/...`): stored like an image or a volume. */
function isServerDisk(b: BackupSummary): boolean {
  return b.ref.host === SERVER_HOST && b.kind !== 'server' && SERVER_DISK_SUFFIX.test(b.ref.name);
}

/** What a row is: fs, volume, image, server, or the disk of a server (`server disk (root)`, `server disk (vol-0)`). */
function kindOf(b: BackupSummary): string {
  if (isServerDisk(b)) return `server disk (${b.ref.name.slice(b.ref.name.lastIndexOf('.') + 1)})`;
  return b.kind ?? 'fs';
}

/** The server backup a disk belongs to, as `<name>/<timestamp>`. */
function serverKeyOf(b: BackupSummary): string {
  return `${isServerDisk(b) ? b.ref.name.replace(SERVER_DISK_SUFFIX, '') : b.ref.name}/${b.ref.timestamp}`;
}

/**
 * Every server backup directly followed by its disks (taken with the same name and timestamp), each disk with its
 * server; the rest in order.
 */
function groupServerDisks(backups: readonly BackupSummary[]): { b: BackupSummary; server?: BackupSummary }[] {
  const servers = new Map(backups.filter((b) => b.ref.host === SERVER_HOST && b.kind === 'server').map((b) => [serverKeyOf(b), b]));
  const disks = new Map<string, BackupSummary[]>();
  for (const b of backups) {
    if (!isServerDisk(b) || !servers.has(serverKeyOf(b))) continue;
    disks.set(serverKeyOf(b), [...(disks.get(serverKeyOf(b)) ?? []), b]);
  }
  const out: { b: BackupSummary; server?: BackupSummary }[] = [];
  for (const b of backups) {
    if (isServerDisk(b) && servers.has(serverKeyOf(b))) continue;
    out.push({ b });
    if (b.ref.host === SERVER_HOST && b.kind === 'server') out.push(...(disks.get(serverKeyOf(b)) ?? []).map((disk) => ({ b: disk, server: b })));
  }
  return out;
}

/** A root disk's recorded image is the backup's own (deleted) snapshot: name the server instead. */
function diskResourceOf(b: BackupSummary, server: BackupSummary | undefined): string {
  if (b.kind !== 'image') return resourceOf(b);
  const name = server?.resource?.name || server?.resource?.id;
  return name ? `root disk of server "${name}"` : 'root disk';
}

export function backupTable(backups: readonly BackupSummary[]): string {
  // The resource column only when a listed backup has one (volume and image backups); files only when one is a tree;
  // the kind when kinds are mixed (a server backup and its disks, for one).
  const withResource = backups.some((b) => b.resource !== undefined);
  const withFiles = backups.some((b) => b.kind === 'fs' || b.kind === undefined);
  const withKind = new Set(backups.map(kindOf)).size > 1 || backups.some((b) => b.ref.host === SERVER_HOST);
  const head = [
    'backup',
    ...(withKind ? ['kind'] : []),
    ...(withResource ? ['resource'] : []),
    'level',
    'chain (level 0)',
    'based on',
    'taken (UTC)',
    ...(withFiles ? ['files'] : []),
    'size',
    'stored',
    'segments',
    'compression',
    'encrypted',
    'warnings',
  ];
  const table = new Table({ head, style: process.stdout.isTTY ? undefined : { head: [], border: [] } });
  for (const { b, server } of groupServerDisks(backups)) {
    // A server backup is a record only: its bytes are in its disks' rows.
    const record = b.kind === 'server';
    table.push([
      `${isServerDisk(b) ? '  ' : ''}${b.ref.host}_${b.ref.name}/${b.ref.timestamp}`,
      ...(withKind ? [kindOf(b)] : []),
      ...(withResource ? [isServerDisk(b) ? diskResourceOf(b, server) : resourceOf(b)] : []),
      String(b.level),
      b.chain,
      b.parent ?? '-',
      b.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      ...(withFiles ? [b.kind === 'fs' || b.kind === undefined ? String(b.stats.files) : '-'] : []),
      record ? '-' : formatBytes(b.stats.bytes),
      record ? '-' : formatBytes(b.stats.storedBytes),
      record ? '-' : String(b.stats.segments),
      record ? '-' : b.compression,
      record ? '-' : b.encrypted ? 'yes' : 'no',
      String(b.warningCount),
    ]);
  }
  return table.toString();
}

/** A restore plan: the backups applied, level 0 first. */
export function formatPlan(plan: readonly BackupSummary[], verb: string): string {
  const lines = plan.map(
    (b, i) => `  ${i + 1}. level ${b.level}  ${b.ref.host}_${b.ref.name}/${b.ref.timestamp}  ${b.stats.files} files, ${formatBytes(b.stats.bytes)}`
  );
  return [`restore plan (${verb} ${plan.length} backup${plan.length === 1 ? '' : 's'}, in this order):`, ...lines].join('\n');
}
