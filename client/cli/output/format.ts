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

export function backupTable(backups: readonly BackupSummary[]): string {
  const table = new Table({
    head: ['backup', 'level', 'chain (level 0)', 'based on', 'taken (UTC)', 'files', 'size', 'stored', 'segments', 'compression', 'encrypted', 'warnings'],
    style: process.stdout.isTTY ? undefined : { head: [], border: [] },
  });
  for (const b of backups) {
    table.push([
      `${b.ref.host}_${b.ref.name}/${b.ref.timestamp}`,
      String(b.level),
      b.chain,
      b.parent ?? '-',
      b.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      String(b.stats.files),
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
