/** Human-readable numbers and tables for the CLI. */
import Table from 'cli-table3';
import type { BackupSummary } from '../../../workflows/shared/types';

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

export function backupTable(backups: readonly BackupSummary[]): string {
  // The resource column only when a listed backup has one (volume and image backups); files only when one is a tree.
  const withResource = backups.some((b) => b.resource !== undefined);
  const withFiles = backups.some((b) => b.kind === 'fs' || b.kind === undefined);
  const head = ['backup', ...(withResource ? ['resource'] : []), 'level', 'chain (level 0)', 'based on', 'taken (UTC)', ...(withFiles ? ['files'] : []), 'size', 'stored', 'segments', 'compression', 'encrypted', 'warnings'];
  const table = new Table({ head, style: process.stdout.isTTY ? undefined : { head: [], border: [] } });
  for (const b of backups) {
    table.push([
      `${b.ref.host}_${b.ref.name}/${b.ref.timestamp}`,
      ...(withResource ? [resourceOf(b)] : []),
      String(b.level),
      b.chain,
      b.parent ?? '-',
      b.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      ...(withFiles ? [b.kind === 'fs' || b.kind === undefined ? String(b.stats.files) : '-'] : []),
      formatBytes(b.stats.bytes),
      formatBytes(b.stats.storedBytes),
      String(b.stats.segments),
      b.compression,
      b.encrypted ? 'yes' : 'no',
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
