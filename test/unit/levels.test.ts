import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseLevel, invalidLevelPolicy, restoreChain } from '../../workflows/shared/levels';
import type { BackupSummary } from '../../workflows/shared/types';
import { summary } from '../helpers/summary';

const b = (timestamp: string, level: number, chain: string, parent: string | null): BackupSummary => summary(timestamp, { level, chain, parent });
const T = (d: number): string => `202611${String(d).padStart(2, '0')}T000000.000Z`;
const now = new Date('2026-11-30T00:00:00Z');

test('without a policy every backup is a full level 0', () => {
  assert.equal(chooseLevel([b(T(1), 0, T(1), null)], undefined, now).level, 0);
});

test('levels count up against the newest backup, and maxLevel restarts the chain', () => {
  const l0 = b(T(1), 0, T(1), null);
  assert.deepEqual(chooseLevel([], { maxLevel: 3 }, now), { level: 0, parent: null, chain: null, reason: 'first backup of this name' });
  const one = chooseLevel([l0], { maxLevel: 3 }, now);
  assert.deepEqual([one.level, one.parent, one.chain], [1, T(1), T(1)]);
  const l1 = b(T(2), 1, T(1), T(1));
  const two = chooseLevel([l1, l0], { maxLevel: 3 }, now);
  assert.deepEqual([two.level, two.parent], [2, T(2)]);
  const l2 = b(T(3), 2, T(1), T(2));
  assert.equal(chooseLevel([l0, l1, l2], { maxLevel: 3 }, now).level, 0, 'level 3 would reach maxLevel 3');
});

test('alwaysLevel: 0..N, then every backup at N against the newest N-1 (differential)', () => {
  const l0 = b(T(1), 0, T(1), null);
  const l1 = b(T(2), 1, T(1), T(1));
  const next = chooseLevel([l0, l1], { alwaysLevel: 1 }, now);
  assert.deepEqual([next.level, next.parent], [1, T(1)], 'level 1 again, against the level 0');
  const l2a = b(T(3), 2, T(1), T(2));
  const d = chooseLevel([l0, l1, l2a], { alwaysLevel: 2 }, now);
  assert.deepEqual([d.level, d.parent], [2, T(2)], 'level 2 against the newest level 1, not the previous level 2');
});

test('restartAlwaysLevelDays is measured from the chain level 0, not its newest increment', () => {
  const l0 = b(T(1), 0, T(1), null);
  const daily = [l0, ...[2, 3, 4, 5, 6, 7, 8].map((d) => b(T(d), 1, T(1), T(1)))];
  assert.equal(chooseLevel(daily, { alwaysLevel: 1, restartAlwaysLevelDays: 7 }, new Date('2026-11-08T00:00:01Z')).level, 0);
  assert.equal(chooseLevel(daily, { alwaysLevel: 1, restartAlwaysLevelDays: 7 }, new Date('2026-11-07T23:59:59Z')).level, 1);
});

test('an incompatible newest backup (other sources or key) starts a new chain', () => {
  const l0 = b(T(1), 0, T(1), null);
  assert.equal(chooseLevel([l0], { maxLevel: 5 }, now, () => false).level, 0);
});

test('invalid policies are refused', () => {
  assert.ok(invalidLevelPolicy({ maxLevel: 0 }));
  assert.ok(invalidLevelPolicy({ maxLevel: 2, alwaysLevel: 1 }));
  assert.ok(invalidLevelPolicy({ restartAlwaysLevelDays: -1 }));
  assert.equal(invalidLevelPolicy({ alwaysLevel: 1, restartAlwaysLevelDays: 7 }), undefined);
});

test('a restore applies the ancestors from level 0 down, in order; a missing link is reported', () => {
  const l0 = b(T(1), 0, T(1), null);
  const l1 = b(T(2), 1, T(1), T(1));
  const l2 = b(T(3), 2, T(1), T(2));
  const l1b = b(T(4), 1, T(1), T(1));
  const all = [l2, l1b, l0, l1];
  assert.deepEqual(restoreChain(all, l2)?.map((x) => x.ref.timestamp), [T(1), T(2), T(3)]);
  assert.deepEqual(restoreChain(all, l1b)?.map((x) => x.ref.timestamp), [T(1), T(4)], 'a differential skips the older level 1');
  assert.equal(restoreChain([l0, l2], l2), undefined, 'level 1 is missing');
});
