/**
 * Which level the next backup of a host/name takes, and what it is based on. Freezer's options with their intended
 * meaning: `maxLevel` restarts at level 0 once the next level would reach it; `alwaysLevel` N takes levels 0..N, then
 * every backup at level N against the newest N-1 (differential); `restartAlwaysLevelDays` restarts at 0 when the
 * chain's level 0 (not its newest increment) is that old. Pure, so it is unit-tested and usable in workflows.
 */
import { parseBackupTimestamp } from './naming';
import type { BackupSummary, LevelPolicy } from './types';

export interface LevelChoice {
  level: number;
  /** Timestamp of the backup this one records changes against; null for a level 0. */
  parent: string | null;
  /** Timestamp of the chain's level 0; null when this backup starts a chain. */
  chain: string | null;
  reason: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Why a policy is unusable, or undefined. */
export function invalidLevelPolicy(p: LevelPolicy): string | undefined {
  if (p.maxLevel !== undefined && (!Number.isInteger(p.maxLevel) || p.maxLevel < 1)) return 'maxLevel must be an integer of at least 1';
  if (p.alwaysLevel !== undefined && (!Number.isInteger(p.alwaysLevel) || p.alwaysLevel < 1)) return 'alwaysLevel must be an integer of at least 1';
  if (p.maxLevel !== undefined && p.alwaysLevel !== undefined) return 'give maxLevel or alwaysLevel, not both';
  if (p.restartAlwaysLevelDays !== undefined && !(p.restartAlwaysLevelDays > 0)) return 'restartAlwaysLevelDays must be positive';
  return undefined;
}

/**
 * `backups`: the committed backups of one host/name. `compatible(b)` tells whether `b` can serve as a base (same
 * sources, same encryption key, readable index); an incompatible newest backup restarts the chain.
 */
export function chooseLevel(
  backups: readonly BackupSummary[],
  policy: LevelPolicy | undefined,
  now: Date,
  compatible: (b: BackupSummary) => boolean = () => true
): LevelChoice {
  const full = (reason: string): LevelChoice => ({ level: 0, parent: null, chain: null, reason });
  if (!policy) return full('no level policy: every backup is full');
  const sorted = [...backups].sort((a, b) => (a.ref.timestamp < b.ref.timestamp ? -1 : 1));
  const last = sorted.at(-1);
  if (!last) return full('first backup of this name');
  if (!compatible(last)) return full(`the newest backup (${last.ref.timestamp}) has other sources or another key`);
  const chain = sorted.filter((b) => b.chain === last.chain);
  const base = chain.find((b) => b.level === 0);
  if (!base) return full(`the chain of ${last.ref.timestamp} has no level 0`);
  if (policy.restartAlwaysLevelDays !== undefined) {
    const started = parseBackupTimestamp(base.ref.timestamp)?.getTime() ?? 0;
    if (now.getTime() - started >= policy.restartAlwaysLevelDays * DAY_MS) {
      return full(`the chain's level 0 (${base.ref.timestamp}) is ${policy.restartAlwaysLevelDays} days old or more`);
    }
  }
  if (policy.alwaysLevel !== undefined) {
    const level = Math.min(last.level + 1, policy.alwaysLevel);
    const parent = [...chain].reverse().find((b) => b.level === level - 1);
    if (!parent) return full(`the chain has no level ${level - 1} to base level ${level} on`);
    return { level, parent: parent.ref.timestamp, chain: base.ref.timestamp, reason: `level ${level} against level ${parent.level} (${parent.ref.timestamp})` };
  }
  const level = last.level + 1;
  if (policy.maxLevel !== undefined && level >= policy.maxLevel) return full(`maxLevel ${policy.maxLevel} reached: a new chain starts`);
  return { level, parent: last.ref.timestamp, chain: base.ref.timestamp, reason: `level ${level} against ${last.ref.timestamp}` };
}

/**
 * The backups a restore of `target` applies, in order: its ancestors from the level 0 down to it. Undefined when a
 * link of the chain is missing (deleted or never committed).
 */
export function restoreChain(backups: readonly BackupSummary[], target: BackupSummary): BackupSummary[] | undefined {
  const byTs = new Map(backups.map((b) => [b.ref.timestamp, b]));
  const chain: BackupSummary[] = [target];
  let current = target;
  while (current.parent !== null) {
    const parent = byTs.get(current.parent);
    if (!parent || chain.length > 10_000) return undefined;
    chain.unshift(parent);
    current = parent;
  }
  return current.level === 0 ? chain : undefined;
}
