/** Choosing what to restore. Pure, so it is unit-tested and usable in the sandbox. */
import type { BackupSummary } from './types';
import { parseBackupTimestamp } from './naming';

export interface RestorePointQuery {
  /** Exact timestamp of the wanted backup. */
  timestamp?: string;
  /** ISO 8601 instant; the newest backup taken at or before it. Without a zone it is read as UTC. */
  fromDate?: string;
}

/** Parses an operator-supplied date as UTC unless it names a zone. Returns undefined when it is not a real date. */
export function parseUtcDate(text: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > days || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return undefined;
  }
  const ms = frac === '' ? '' : frac.slice(0, 4).padEnd(4, '0');
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${ms}${offset}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export type Selection = { ok: true; backup: BackupSummary } | { ok: false; reason: string };

/** Picks the backup to restore from committed backups of one host/name. */
export function selectRestorePoint(backups: readonly BackupSummary[], query: RestorePointQuery): Selection {
  if (backups.length === 0) return { ok: false, reason: 'no committed backup exists for this host and name' };
  if (query.timestamp !== undefined) {
    const exact = backups.find((b) => b.ref.timestamp === query.timestamp);
    return exact ? { ok: true, backup: exact } : { ok: false, reason: `no backup with timestamp ${query.timestamp}` };
  }
  const sorted = [...backups].sort((a, b) => (a.ref.timestamp < b.ref.timestamp ? 1 : -1));
  if (query.fromDate === undefined) return { ok: true, backup: sorted[0]! };
  const limit = parseUtcDate(query.fromDate);
  if (!limit) return { ok: false, reason: `--from-date ${JSON.stringify(query.fromDate)} is not an ISO 8601 date` };
  const found = sorted.find((b) => (parseBackupTimestamp(b.ref.timestamp)?.getTime() ?? Infinity) <= limit.getTime());
  if (!found) {
    const oldest = sorted[sorted.length - 1]!.ref.timestamp;
    return { ok: false, reason: `no backup at or before ${limit.toISOString()}; the oldest is ${oldest}` };
  }
  return { ok: true, backup: found };
}
