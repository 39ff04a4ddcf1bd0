/**
 * Retention planning: which committed backups of one `<host>_<name>` a prune keeps and deletes, and why. Pure and
 * deterministic (the caller passes "now"), so it runs inside the workflow sandbox, in the client and in unit tests.
 *
 * Rules (restic-style keep rules plus Freezer's age rule, but chain-aware):
 *  - keep-last N: the N newest backups;
 *  - keep-daily / keep-weekly / keep-monthly N: the newest backup of each of the last N UTC days / ISO weeks / months
 *    that have backups (calendar buckets without backups do not count);
 *  - older-than D: backups taken more than D before now are deleted unless a keep rule keeps them; backups taken
 *    within D are kept. Without older-than, every backup that no keep rule keeps is deleted;
 *  - the newest backup is always kept: a retention run never leaves a name without a restore point (deleting
 *    everything is not retention);
 *  - dependency closure: every ancestor of a kept backup (its parent, the parent's parent, ... down to the chain's
 *    level 0) is kept with the reason "needed by <timestamp of the dependant>". So older-than never deletes the full
 *    backup that a recent increment needs (Freezer's --remove-older-than does).
 * A policy with no keep rule and no older-than is invalid (it would mean "delete everything but the newest").
 */
import { parseBackupTimestamp } from './naming';
import type { BackupSummary, RetentionEntry, RetentionPlan, RetentionPolicy } from './types';

/** Thrown for a policy that cannot be planned with (the workflow maps it to a non-retryable InvalidInputError). */
export class RetentionPolicyError extends Error {
  override readonly name = 'RetentionPolicyError';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `30d`, `36h`, `1d12h`, `2w`, `90m`, `45s`: a duration in milliseconds, or undefined. Months and years are not durations. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (!/^(\d+(ms|s|m|h|d|w))+$/.test(t)) return undefined;
  let ms = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) ms += Number(n) * (UNITS[unit ?? ''] ?? NaN);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** The inverse of parseDuration, in the largest exact units: 2592000000 -> `30d`, 129600000 -> `1d12h`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['d', UNITS.d!], ['h', UNITS.h!], ['m', UNITS.m!], ['s', UNITS.s!], ['ms', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}

const COUNT_RULES = ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const;
const FLAG: Record<(typeof COUNT_RULES)[number], string> = { keepLast: 'keep-last', keepDaily: 'keep-daily', keepWeekly: 'keep-weekly', keepMonthly: 'keep-monthly' };

/** Every reason `policy` cannot be planned with (empty when it is valid). */
export function invalidRetentionPolicy(policy: RetentionPolicy): string[] {
  const problems: string[] = [];
  for (const rule of COUNT_RULES) {
    const n = policy[rule];
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 1)) problems.push(`--${FLAG[rule]} must be a whole number of at least 1 (got ${JSON.stringify(n)})`);
  }
  const age = policy.olderThanMs;
  if (age !== undefined && (!Number.isSafeInteger(age) || age <= 0)) problems.push(`--older-than must be a positive duration such as 30d (got ${JSON.stringify(age)})`);
  if (COUNT_RULES.every((r) => policy[r] === undefined) && age === undefined) {
    problems.push('a retention policy needs at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly, --older-than');
  }
  return problems;
}

/** The policy as the flags that express it: `keep-last 3, older-than 30d`. */
export function describePolicy(policy: RetentionPolicy): string {
  const parts = COUNT_RULES.flatMap((r) => (policy[r] === undefined ? [] : [`${FLAG[r]} ${policy[r]}`]));
  if (policy.olderThanMs !== undefined) parts.push(`older-than ${formatDuration(policy.olderThanMs)}`);
  return parts.join(', ');
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function utcDay(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** ISO 8601 week of a UTC instant: `2026-W53`; the week belongs to the year of its Thursday. */
export function isoWeek(d: Date): string {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = day.getUTCDay() === 0 ? 7 : day.getUTCDay();
  day.setUTCDate(day.getUTCDate() + 4 - weekday); // the Thursday of the same week
  const year = day.getUTCFullYear();
  const week = Math.floor((day.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 / 7) + 1;
  return `${year}-W${pad(week)}`;
}

export function utcMonth(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
}

function takenAt(b: BackupSummary): number {
  return (parseBackupTimestamp(b.ref.timestamp) ?? new Date(b.createdAt)).getTime();
}

/** What `b` needs to be restored: its parent; for a level > 0 without a parent (never written so), its chain's level 0. */
function dependencyOf(b: BackupSummary): string | null {
  if (b.parent) return b.parent;
  if (b.level > 0 && b.chain && b.chain !== b.ref.timestamp) return b.chain;
  return null;
}

function entryOf(b: BackupSummary): RetentionEntry {
  return { timestamp: b.ref.timestamp, level: b.level, chain: b.chain, parent: b.parent, storedBytes: b.stats.storedBytes };
}

/**
 * The plan for the committed backups of one `<host>_<name>` (`group`, by default that of the first backup; any order).
 * Throws RetentionPolicyError for an invalid policy, or backups of another host or name.
 */
export function planRetention(
  backups: readonly BackupSummary[],
  policy: RetentionPolicy,
  now: Date,
  group: { host: string; name: string } | undefined = backups[0]?.ref
): RetentionPlan {
  const problems = invalidRetentionPolicy(policy);
  if (problems.length > 0) throw new RetentionPolicyError(problems);
  const host = group?.host ?? '';
  const name = group?.name ?? '';
  if (backups.some((b) => b.ref.host !== host || b.ref.name !== name)) {
    throw new RetentionPolicyError(['a retention plan covers the backups of one host and name only']);
  }
  const newestFirst = [...backups].sort((a, b) => (a.ref.timestamp < b.ref.timestamp ? 1 : a.ref.timestamp > b.ref.timestamp ? -1 : 0));
  const byTs = new Map(newestFirst.map((b) => [b.ref.timestamp, b]));
  const reasons = new Map<string, string[]>(newestFirst.map((b) => [b.ref.timestamp, []]));
  const why = (ts: string, reason: string): void => {
    const list = reasons.get(ts);
    if (list && !list.includes(reason)) list.push(reason);
  };

  if (policy.keepLast !== undefined) {
    newestFirst.slice(0, policy.keepLast).forEach((b, i) => why(b.ref.timestamp, `keep-last ${policy.keepLast}: #${i + 1} newest`));
  }
  const buckets: [number | undefined, string, (d: Date) => string][] = [
    [policy.keepDaily, 'keep-daily', utcDay],
    [policy.keepWeekly, 'keep-weekly', isoWeek],
    [policy.keepMonthly, 'keep-monthly', utcMonth],
  ];
  for (const [count, flag, bucketOf] of buckets) {
    if (count === undefined) continue;
    let kept = 0;
    let last: string | undefined;
    for (const b of newestFirst) {
      if (kept >= count) break;
      const bucket = bucketOf(new Date(takenAt(b)));
      if (bucket === last) continue;
      last = bucket;
      kept++;
      why(b.ref.timestamp, `${flag} ${count}: newest of ${bucket}`);
    }
  }
  const cutoff = policy.olderThanMs === undefined ? undefined : now.getTime() - policy.olderThanMs;
  const age = policy.olderThanMs === undefined ? '' : formatDuration(policy.olderThanMs);
  const cutoffText = cutoff === undefined ? '' : new Date(cutoff).toISOString();
  if (cutoff !== undefined) {
    for (const b of newestFirst) if (takenAt(b) >= cutoff) why(b.ref.timestamp, `within the last ${age}`);
  }
  const newest = newestFirst[0];
  if (newest && reasons.get(newest.ref.timestamp)?.length === 0) why(newest.ref.timestamp, 'newest backup (always kept)');

  // Dependency closure: a kept backup keeps its whole ancestry. Newest first, so a dependant is always handled
  // before its parent; a backup kept only as a dependency is queued as well.
  const warnings: string[] = [];
  const queue = newestFirst.filter((b) => (reasons.get(b.ref.timestamp)?.length ?? 0) > 0);
  const seen = new Set<string>();
  while (queue.length > 0) {
    const b = queue.shift()!;
    if (seen.has(b.ref.timestamp)) continue;
    seen.add(b.ref.timestamp);
    const dep = dependencyOf(b);
    if (dep === null) continue;
    const parent = byTs.get(dep);
    if (!parent) {
      warnings.push(`${b.ref.timestamp} (level ${b.level}) needs ${dep}, which is not in the storage: it cannot be restored`);
      continue;
    }
    why(dep, `needed by ${b.ref.timestamp}`);
    queue.push(parent);
  }

  const keep = [...newestFirst].reverse().flatMap((b) => {
    const r = reasons.get(b.ref.timestamp) ?? [];
    return r.length > 0 ? [{ ...entryOf(b), reasons: r }] : [];
  });
  const doomed = newestFirst.filter((b) => (reasons.get(b.ref.timestamp)?.length ?? 0) === 0);
  const reasonToDelete = (b: BackupSummary): string =>
    cutoff !== undefined && takenAt(b) < cutoff ? `older than ${age}; no rule keeps it, no kept backup needs it` : 'no rule keeps it, no kept backup needs it';
  const del = deletionOrder(doomed).map((b) => ({ ...entryOf(b), reason: reasonToDelete(b) }));
  return { host, name, now: now.toISOString(), ...(cutoff === undefined ? {} : { cutoff: cutoffText }), policy, keep, delete: del, warnings };
}

/**
 * Orders backups so that each one comes after every backup in the list that depends on it (children before parents),
 * newest first among the rest. A parent is always older than its children, so this is newest first in practice; the
 * explicit check keeps it true for any data.
 */
export function deletionOrder<T extends BackupSummary>(backups: readonly T[]): T[] {
  const pending = [...backups].sort((a, b) => (a.ref.timestamp < b.ref.timestamp ? 1 : a.ref.timestamp > b.ref.timestamp ? -1 : 0));
  const out: T[] = [];
  while (pending.length > 0) {
    const remaining = new Set(pending.map((b) => b.ref.timestamp));
    // A backup is ready when no pending backup depends on it; a cycle (corrupt data) falls back to newest first.
    const i = pending.findIndex((b) => !pending.some((o) => o !== b && dependencyOf(o) === b.ref.timestamp && remaining.has(o.ref.timestamp)));
    out.push(...pending.splice(i < 0 ? 0 : i, 1));
  }
  return out;
}
