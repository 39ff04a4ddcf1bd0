/** Retention planning: keep rules, UTC calendar buckets, the age rule, and the dependency closure over chains. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deletionOrder,
  describePolicy,
  formatDuration,
  invalidRetentionPolicy,
  isoWeek,
  parseDuration,
  planRetention,
  RetentionPolicyError,
  utcDay,
  utcMonth,
} from '../../workflows/shared/retention';
import { formatBackupTimestamp } from '../../workflows/shared/naming';
import type { BackupSummary, RetentionPlan, RetentionPolicy } from '../../workflows/shared/types';
import { formatPruneResult } from '../../client/cli/commands/prune';
import { formatGcResult } from '../../client/cli/commands/gc';
import { DEFAULT_GC_GRACE_MS, validateGc, validatePrune, ValidationError } from '../../client/validate';

// Calendar buckets are UTC whatever the machine's zone: run these in a zone 14 hours ahead of UTC.
process.env.TZ = 'Pacific/Kiritimati';

const DAY = 86_400_000;
const NOW = new Date('2026-11-26T12:00:00.000Z');

function stamp(d: Date | string): string {
  return formatBackupTimestamp(typeof d === 'string' ? new Date(d) : d);
}

function daysAgo(n: number, hours = 0): string {
  return stamp(new Date(NOW.getTime() - n * DAY - hours * 3_600_000));
}

/** A committed backup; `parent` null = level 0. */
function b(timestamp: string, parent: string | null = null, opts: { level?: number; chain?: string; host?: string; name?: string } = {}): BackupSummary {
  return {
    ref: { host: opts.host ?? 'web-1', name: opts.name ?? 'etc', timestamp },
    kind: 'fs',
    level: opts.level ?? (parent === null ? 0 : 1),
    chain: opts.chain ?? (parent === null ? timestamp : parent),
    parent,
    createdAt: new Date(Date.UTC(+timestamp.slice(0, 4), +timestamp.slice(4, 6) - 1, +timestamp.slice(6, 8))).toISOString(),
    completedAt: '',
    sources: ['/etc'],
    compression: 'zstd',
    encrypted: false,
    stats: { files: 1, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 10, streamBytes: 10, storedBytes: 1024, segments: 1 },
    warningCount: 0,
  };
}

/** A chain: a level 0, then increments; `always` = every increment based on the level 0 (Freezer's always_level 1). */
function chain(stamps: string[], mode: 'cumulative' | 'always' = 'cumulative'): BackupSummary[] {
  const [root, ...rest] = stamps;
  const out = [b(root!)];
  rest.forEach((ts, i) => {
    const parent = mode === 'always' ? root! : stamps[i]!;
    out.push(b(ts, parent, { level: mode === 'always' ? 1 : i + 1, chain: root! }));
  });
  return out;
}

const kept = (p: RetentionPlan): string[] => p.keep.map((k) => k.timestamp);
const deleted = (p: RetentionPlan): string[] => p.delete.map((d) => d.timestamp);
const reasonsOf = (p: RetentionPlan, ts: string): string[] => p.keep.find((k) => k.timestamp === ts)?.reasons ?? [];

/** What every plan must satisfy, whatever the policy: a partition, closed under dependencies, children deleted first. */
function assertSound(backups: BackupSummary[], p: RetentionPlan): void {
  const all = backups.map((x) => x.ref.timestamp).sort();
  assert.deepEqual([...kept(p), ...deleted(p)].sort(), all, 'every backup is kept or deleted, once');
  const keep = new Set(kept(p));
  for (const x of backups) {
    if (keep.has(x.ref.timestamp) && x.parent !== null && all.includes(x.parent)) {
      assert.ok(keep.has(x.parent), `${x.ref.timestamp} is kept but its parent ${x.parent} is deleted`);
    }
  }
  if (backups.length > 0) assert.ok(keep.has(all.at(-1)!), 'the newest backup is kept');
  const order = deleted(p);
  for (const x of backups) {
    if (x.parent !== null && order.includes(x.ref.timestamp) && order.includes(x.parent)) {
      assert.ok(order.indexOf(x.ref.timestamp) < order.indexOf(x.parent), `${x.ref.timestamp} must be deleted before its parent ${x.parent}`);
    }
  }
  for (const k of p.keep) assert.ok(k.reasons.length > 0, `${k.timestamp} is kept without a reason`);
  for (const d of p.delete) assert.ok(d.reason.length > 0, `${d.timestamp} is deleted without a reason`);
}

function plan(backups: BackupSummary[], policy: RetentionPolicy, now = NOW): RetentionPlan {
  const p = planRetention(backups, policy, now);
  assertSound(backups, p);
  return p;
}

test('durations parse and format in exact units; months and years are refused', () => {
  assert.equal(parseDuration('30d'), 30 * DAY);
  assert.equal(parseDuration('36h'), 36 * 3_600_000);
  assert.equal(parseDuration('1d12h'), 1.5 * DAY);
  assert.equal(parseDuration('2w'), 14 * DAY);
  assert.equal(parseDuration('90m'), 90 * 60_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('250ms'), 250);
  for (const bad of ['', '30', 'd', '1y', '1mo', '-1d', '1.5d', '30 days', '1d 2h']) assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(formatDuration(30 * DAY), '30d');
  assert.equal(formatDuration(1.5 * DAY), '1d12h');
  assert.equal(formatDuration(90_000), '1m30s');
});

test('UTC calendar buckets: days, ISO weeks across the year boundary, months', () => {
  assert.equal(utcDay(new Date('2026-11-26T23:59:59.999Z')), '2026-11-26');
  assert.equal(utcDay(new Date('2026-11-27T00:00:00.000Z')), '2026-11-27');
  // 2026 starts on a Thursday: it has a week 53, which ends on Sunday 3 January 2027.
  assert.equal(isoWeek(new Date('2026-01-01T00:00:00Z')), '2026-W01');
  assert.equal(isoWeek(new Date('2026-12-28T00:00:00Z')), '2026-W53');
  assert.equal(isoWeek(new Date('2027-01-03T23:59:59Z')), '2026-W53');
  assert.equal(isoWeek(new Date('2027-01-04T00:00:00Z')), '2027-W01');
  // 30 December 2024 (a Monday) is in week 1 of 2025.
  assert.equal(isoWeek(new Date('2024-12-29T12:00:00Z')), '2024-W52');
  assert.equal(isoWeek(new Date('2024-12-30T12:00:00Z')), '2025-W01');
  assert.equal(utcMonth(new Date('2026-02-28T23:59:59Z')), '2026-02');
  assert.equal(utcMonth(new Date('2026-03-01T00:00:00Z')), '2026-03');
});

test('keep-last counts backups, and keeps the whole ancestry of each kept one', () => {
  const backups = chain([daysAgo(3), daysAgo(2), daysAgo(1)]); // levels 0, 1, 2
  const p = plan(backups, { keepLast: 1 });
  assert.deepEqual(kept(p), [daysAgo(3), daysAgo(2), daysAgo(1)]);
  assert.deepEqual(deleted(p), []);
  assert.deepEqual(reasonsOf(p, daysAgo(1)), ['keep-last 1: #1 newest']);
  assert.deepEqual(reasonsOf(p, daysAgo(2)), [`needed by ${daysAgo(1)}`]);
  assert.deepEqual(reasonsOf(p, daysAgo(3)), [`needed by ${daysAgo(2)}`]);
});

test('chain 0, 1, 2, then 1 again (always level 1): keep-last 1 keeps the level 0 and drops the branch 1 -> 2', () => {
  const [l0, l1, l2, l1b] = [daysAgo(4), daysAgo(3), daysAgo(2), daysAgo(1)];
  const backups = [b(l0), b(l1, l0, { level: 1, chain: l0 }), b(l2, l1, { level: 2, chain: l0 }), b(l1b, l0, { level: 1, chain: l0 })];
  const p = plan(backups, { keepLast: 1 });
  assert.deepEqual(kept(p), [l0, l1b]);
  assert.deepEqual(deleted(p), [l2, l1], 'the level 2 goes before the level 1 it is based on');
  assert.deepEqual(reasonsOf(p, l0), [`needed by ${l1b}`]);
  assert.equal(p.delete[0]!.reason, 'no rule keeps it, no kept backup needs it');
});

test('keep-last over two chains deletes the older chain, newest first (children before parents)', () => {
  const a = chain([daysAgo(9), daysAgo(8), daysAgo(7)]);
  const bb = chain([daysAgo(3), daysAgo(2)]);
  const p = plan([...bb, ...a].reverse(), { keepLast: 2 });
  assert.deepEqual(kept(p), [daysAgo(3), daysAgo(2)]);
  assert.deepEqual(deleted(p), [daysAgo(7), daysAgo(8), daysAgo(9)]);
});

test("older-than never deletes a newer backup's ancestor (Freezer's --remove-older-than deletes whole chains)", () => {
  // One chain: a full backup 40 days ago, a cumulative increment every day since.
  const stamps = Array.from({ length: 41 }, (_, i) => daysAgo(40 - i));
  const cumulative = chain(stamps, 'cumulative');
  let p = plan(cumulative, { olderThanMs: 30 * DAY });
  assert.deepEqual(deleted(p), [], 'every backup is an ancestor of today’s');
  assert.deepEqual(reasonsOf(p, daysAgo(40)), [`needed by ${daysAgo(39)}`]);
  assert.match(reasonsOf(p, daysAgo(5))[0]!, /^within the last 30d/);

  // The same dates, every increment based on the full backup: old increments go, the full backup stays.
  const always = chain(stamps, 'always');
  p = plan(always, { olderThanMs: 30 * DAY });
  assert.deepEqual(kept(p), [daysAgo(40), ...stamps.slice(10)]);
  assert.deepEqual(deleted(p), stamps.slice(1, 10).reverse());
  assert.ok(reasonsOf(p, daysAgo(40)).includes(`needed by ${daysAgo(0)}`));
  for (const d of p.delete) assert.equal(d.reason, 'older than 30d; no rule keeps it, no kept backup needs it');
  assert.equal(p.cutoff, '2026-10-27T12:00:00.000Z');
});

test('older-than deletes whole old chains once a newer chain exists', () => {
  const old = chain([daysAgo(60), daysAgo(59), daysAgo(58)]);
  const recent = chain([daysAgo(20), daysAgo(10)]);
  const p = plan([...old, ...recent], { olderThanMs: 30 * DAY });
  assert.deepEqual(kept(p), [daysAgo(20), daysAgo(10)]);
  assert.deepEqual(deleted(p), [daysAgo(58), daysAgo(59), daysAgo(60)]);
});

test('older-than with every backup older still keeps the newest and its ancestry', () => {
  const p = plan(chain([daysAgo(90), daysAgo(80), daysAgo(70)], 'always'), { olderThanMs: 30 * DAY });
  assert.deepEqual(kept(p), [daysAgo(90), daysAgo(70)]);
  assert.deepEqual(reasonsOf(p, daysAgo(70)), ['newest backup (always kept)']);
  assert.deepEqual(deleted(p), [daysAgo(80)]);
});

test('keep rules and older-than combine: kept if any rule keeps it; old and unkept goes', () => {
  const backups = [daysAgo(100), daysAgo(70), daysAgo(40), daysAgo(35), daysAgo(5)].map((t) => b(t));
  const p = plan(backups, { keepMonthly: 3, olderThanMs: 30 * DAY });
  // Months (UTC): 2026-08-18, 2026-09-17, 2026-10-17, 2026-10-22, 2026-11-21.
  assert.deepEqual(kept(p), [daysAgo(70), daysAgo(35), daysAgo(5)]);
  assert.deepEqual(reasonsOf(p, daysAgo(5)), ['keep-monthly 3: newest of 2026-11', 'within the last 30d']);
  assert.deepEqual(deleted(p), [daysAgo(40), daysAgo(100)]);
});

test('keep-daily: the newest backup of each of the last N UTC days that have backups', () => {
  const ts = [
    '2026-11-20T10:00:00Z', // day 20 (older than the 3 kept days)
    '2026-11-23T08:00:00Z',
    '2026-11-23T23:59:59.999Z', // newest of the 23rd
    '2026-11-24T00:00:00.000Z', // the 24th in UTC (the 25th in the test's zone, UTC+14)
    '2026-11-26T01:00:00Z',
    '2026-11-26T11:00:00Z', // newest of the 26th; the 25th has no backup and does not count
  ].map(stamp);
  const p = plan(ts.map((t) => b(t)), { keepDaily: 3 });
  assert.deepEqual(kept(p), [ts[2], ts[3], ts[5]]);
  assert.deepEqual(reasonsOf(p, ts[2]!), ['keep-daily 3: newest of 2026-11-23']);
  assert.deepEqual(reasonsOf(p, ts[3]!), ['keep-daily 3: newest of 2026-11-24']);
  assert.deepEqual(deleted(p), [ts[4], ts[1], ts[0]]);
});

test('keep-weekly uses ISO weeks in UTC, across a year boundary', () => {
  const ts = [
    '2026-12-21T12:00:00Z', // 2026-W52
    '2026-12-28T09:00:00Z', // 2026-W53
    '2027-01-03T23:00:00Z', // 2026-W53 (Sunday), the newest of that week
    '2027-01-04T00:30:00Z', // 2027-W01 (Monday)
  ].map(stamp);
  const p = plan(ts.map((t) => b(t)), { keepWeekly: 2 }, new Date('2027-01-05T00:00:00Z'));
  assert.deepEqual(kept(p), [ts[2], ts[3]]);
  assert.deepEqual(reasonsOf(p, ts[2]!), ['keep-weekly 2: newest of 2026-W53']);
  assert.deepEqual(deleted(p), [ts[1], ts[0]]);
});

test('keep-monthly skips months without backups; reasons of several rules add up', () => {
  const ts = ['2026-01-05T00:00:00Z', '2026-01-31T23:59:59Z', '2026-03-01T00:00:00Z', '2026-04-15T00:00:00Z', '2026-04-16T00:00:00Z'].map(stamp);
  const p = plan(ts.map((t) => b(t)), { keepMonthly: 3, keepLast: 2 });
  assert.deepEqual(kept(p), [ts[1], ts[2], ts[3], ts[4]]);
  assert.deepEqual(reasonsOf(p, ts[4]!), ['keep-last 2: #1 newest', 'keep-monthly 3: newest of 2026-04']);
  assert.deepEqual(reasonsOf(p, ts[3]!), ['keep-last 2: #2 newest']);
  assert.deepEqual(deleted(p), [ts[0]]);
});

test('a kept increment whose parent is missing is kept, with a warning that it cannot be restored', () => {
  const gone = daysAgo(10);
  const p = plan([b(daysAgo(5), gone, { level: 1, chain: gone }), b(daysAgo(1))], { keepLast: 2 });
  assert.deepEqual(kept(p), [daysAgo(5), daysAgo(1)]);
  assert.equal(p.warnings.length, 1);
  assert.match(p.warnings[0]!, new RegExp(`${daysAgo(5)} \\(level 1\\) needs ${gone}, which is not in the storage`));
});

test('an increment without a parent field depends on its chain (manifests that only name the chain)', () => {
  const root = daysAgo(5);
  const p = plan([b(root), b(daysAgo(4)), b(daysAgo(1), null, { level: 1, chain: root })], { keepLast: 1 });
  assert.deepEqual(kept(p), [root, daysAgo(1)]);
  assert.deepEqual(deleted(p), [daysAgo(4)]);
});

test('no backups: an empty plan; backups of another name are refused', () => {
  const p = planRetention([], { keepLast: 3 }, NOW, { host: 'h', name: 'n' });
  assert.deepEqual([p.keep, p.delete, p.host, p.name], [[], [], 'h', 'n']);
  assert.throws(() => planRetention([b(daysAgo(2)), b(daysAgo(1), null, { name: 'other' })], { keepLast: 1 }, NOW), RetentionPolicyError);
});

test('invalid policies: no rule, zero, fractions, negative ages', () => {
  assert.match(invalidRetentionPolicy({}).join(), /needs at least one of --keep-last/);
  assert.match(invalidRetentionPolicy({ keepLast: 0 }).join(), /--keep-last must be a whole number of at least 1/);
  assert.match(invalidRetentionPolicy({ keepDaily: 1.5 }).join(), /--keep-daily/);
  assert.match(invalidRetentionPolicy({ keepWeekly: -1 }).join(), /--keep-weekly/);
  assert.match(invalidRetentionPolicy({ olderThanMs: 0 }).join(), /--older-than must be a positive duration/);
  assert.deepEqual(invalidRetentionPolicy({ keepMonthly: 12 }), []);
  assert.throws(() => planRetention([b(daysAgo(1))], {}, NOW), (e: unknown) => e instanceof RetentionPolicyError && /at least one/.test(e.message));
  assert.equal(describePolicy({ keepLast: 3, keepDaily: 7, olderThanMs: 30 * DAY }), 'keep-last 3, keep-daily 7, older-than 30d');
});

test('deletion order: every dependant before what it depends on, even for unsorted input', () => {
  const c = chain([daysAgo(5), daysAgo(4), daysAgo(3)]);
  const other = b(daysAgo(2), c[0]!.ref.timestamp, { level: 1, chain: c[0]!.ref.timestamp });
  const order = deletionOrder([c[0]!, other, c[2]!, c[1]!]).map((x) => x.ref.timestamp);
  assert.deepEqual(order, [daysAgo(2), daysAgo(3), daysAgo(4), daysAgo(5)]);
});

test('random chains and policies: every plan is sound (partition, dependency closure, deletion order)', () => {
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 300; round++) {
    const backups: BackupSummary[] = [];
    let t = NOW.getTime() - 200 * DAY;
    for (let i = 0, count = 1 + rand(40); i < count; i++) {
      t += rand(8) * 3_600_000 * (1 + rand(24));
      const ts = stamp(new Date(t));
      if (backups.some((x) => x.ref.timestamp === ts)) continue;
      const chainRoots = backups.filter((x) => x.level === 0);
      if (chainRoots.length === 0 || rand(4) === 0) backups.push(b(ts));
      else {
        const root = chainRoots.at(-1)!;
        const members = backups.filter((x) => x.chain === root.ref.timestamp);
        const parent = members[rand(members.length)]!;
        backups.push(b(ts, parent.ref.timestamp, { level: parent.level + 1, chain: root.ref.timestamp }));
      }
    }
    const policy: RetentionPolicy = {};
    if (rand(2)) policy.keepLast = 1 + rand(5);
    if (rand(3) === 0) policy.keepDaily = 1 + rand(7);
    if (rand(3) === 0) policy.keepWeekly = 1 + rand(4);
    if (rand(3) === 0) policy.keepMonthly = 1 + rand(6);
    if (rand(2) || invalidRetentionPolicy(policy).length > 0) policy.olderThanMs = (1 + rand(120)) * DAY;
    const shuffled = [...backups].sort(() => rand(3) - 1);
    plan(shuffled, policy);
  }
});

test('prune and gc requests are validated before anything starts', () => {
  const ctx = { localNode: 'web-1', defaultStorage: 'local:/srv/backups' };
  const input = validatePrune({ name: 'etc', keepLast: '3', keepDaily: 7, olderThan: '30d', dryRun: true }, ctx);
  assert.deepEqual(input.policy, { keepLast: 3, keepDaily: 7, olderThanMs: 30 * DAY });
  assert.equal(input.host, 'web-1');
  assert.equal(input.dryRun, true);
  assert.throws(() => validatePrune({ name: 'etc' }, ctx), /needs at least one of/);
  assert.throws(() => validatePrune({ name: 'etc', keepWeekly: 0 }, ctx), /--keep-weekly must be a whole number of at least 1 \(got 0\)/);
  assert.throws(
    () => validatePrune({ name: 'bad name', keepLast: 'three', olderThan: '1 month' }, ctx),
    (e: unknown) =>
      e instanceof ValidationError &&
      e.problems.length === 3 &&
      /backup name/.test(e.problems[0]!) &&
      /--keep-last must be a whole number of at least 1 \(got "three"\)/.test(e.problems[1]!) &&
      /--older-than must be a duration .*got "1 month"/.test(e.problems[2]!)
  );
  assert.equal(validateGc({}, ctx).graceMs, DEFAULT_GC_GRACE_MS);
  assert.equal(validateGc({ grace: '2d', dryRun: true }, ctx).graceMs, 2 * DAY);
  assert.throws(() => validateGc({ grace: '10m' }, ctx), /--grace must be at least 1h/);
  assert.throws(() => validateGc({ grace: 'soon' }, ctx), /--grace must be a duration/);
});

test('the dry-run table lists every backup with level, chain, parent, KEEP/DELETE and the reasons', () => {
  const [l0, l1, l2, l1b] = [daysAgo(40), daysAgo(35), daysAgo(34), daysAgo(1)];
  const backups = [b(l0), b(l1, l0, { level: 1, chain: l0 }), b(l2, l1, { level: 2, chain: l0 }), b(l1b, l0, { level: 1, chain: l0 })];
  const p = plan(backups, { olderThanMs: 30 * DAY });
  const text = formatPruneResult({ storage: 'local:/srv/backups', dryRun: true, plan: p, deleted: [], refused: [] }, false);
  const lines = text.split('\n');
  assert.match(lines[0]!, /^retention plan \(dry run, nothing deleted\): web-1_etc in local:\/srv\/backups/);
  assert.match(lines[1]!, /policy: older-than 30d/);
  assert.match(lines[2]!, /^now: 2026-11-26T12:00:00.000Z; older than 30d = taken before 2026-10-27T12:00:00.000Z$/);
  const row = (ts: string): string => lines.find((l) => l.startsWith(`│ ${ts} `)) ?? '';
  assert.match(row(l0), new RegExp(`\\b0\\b.*${l0}.*KEEP.*needed by ${l1b}`));
  assert.match(row(l1), /\b1\b.*DELETE.*older than 30d/);
  assert.match(row(l2), new RegExp(`\\b2\\b.*${l0} .*${l1} .*DELETE`));
  assert.match(row(l1b), /KEEP.*within the last 30d/);
  assert.match(text, /4 backups: keep 2, delete 2 \(2\.0 KiB stored\)/);
  const rowsInOrder = [l0, l1, l2, l1b].map((ts) => lines.findIndex((l) => l.startsWith(`│ ${ts} `)));
  assert.deepEqual([...rowsInOrder].sort((x, y) => x - y), rowsInOrder, 'oldest first');

  const gc = formatGcResult(
    {
      storage: 'local:/srv/backups',
      dryRun: true,
      graceMs: DAY,
      cutoff: '2026-11-25T12:00:00.000Z',
      found: [{ ref: { host: 'web-1', name: 'etc', timestamp: l2 }, objects: 3, temporary: 1, bytes: 2048 }],
      removed: [],
      skipped: [],
    },
    false
  );
  assert.match(gc, new RegExp(`web-1_etc/${l2} +│ 3 +│ 1 +│ 2\\.0 KiB +│ REMOVE`));
  assert.match(gc, /grace 1d/);
});
