import { test } from 'node:test';
import assert from 'node:assert/strict';
import { invalidKeep, planNativeRotation } from '../../workflows/shared/native-rotation';
import type { RotationCandidate } from '../../workflows/shared/native-rotation';

const T0 = Date.UTC(2026, 0, 1);
/** Cinder's created_at: no zone, microseconds. */
const at = (minute: number): string => new Date(T0 + minute * 60_000).toISOString().replace('Z', '000');

function full(id: string, minute: number, extra: Partial<RotationCandidate> = {}): RotationCandidate {
  return { id, createdAt: at(minute), incremental: false, parentId: null, status: 'available', managed: true, ...extra };
}
function incr(id: string, minute: number, parentId: string | null, extra: Partial<RotationCandidate> = {}): RotationCandidate {
  return { id, createdAt: at(minute), incremental: true, parentId, status: 'available', managed: true, ...extra };
}

test('keep 1: the newest incremental and its chain stay; the older chain goes, newest first', () => {
  const backups = [full('F1', 0), incr('I1', 1, 'F1'), incr('I2', 2, 'I1'), full('F2', 3), incr('I3', 4, 'F2'), incr('I4', 5, 'I3')];
  const plan = planNativeRotation(backups, 1);
  assert.deepEqual(plan.keep, ['I4', 'I3', 'F2']);
  assert.deepEqual(plan.delete, ['I2', 'I1', 'F1']);
  assert.deepEqual(plan.leftAlone, []);
});

test('keep N counts available managed backups; what they need is kept on top', () => {
  const backups = [full('F1', 0), incr('I1', 1, 'F1'), incr('I2', 2, 'I1'), incr('I3', 3, 'I1')];
  assert.deepEqual(planNativeRotation(backups, 2), { keep: ['I3', 'I2', 'I1', 'F1'], delete: [], leftAlone: [] });
  // Branches: I3 builds on I1, so I2 (a sibling branch) can go although it is newer than I1.
  assert.deepEqual(planNativeRotation(backups, 1), { keep: ['I3', 'I1', 'F1'], delete: ['I2'], leftAlone: [] });
  assert.deepEqual(planNativeRotation(backups, 10).delete, []);
  assert.deepEqual(planNativeRotation([], 3), { keep: [], delete: [], leftAlone: [] });
});

test('backups permafrost did not make are never counted nor deleted, even when they are the newest', () => {
  const backups = [
    full('F1', 0),
    full('X1', 1, { managed: false }),
    incr('I1', 2, 'X1'), // ours, on top of a foreign backup
    full('F2', 3),
    full('X2', 4, { managed: false }),
    incr('X3', 5, null, { managed: false }),
  ];
  const plan = planNativeRotation(backups, 1);
  assert.deepEqual(plan.keep, ['F2']);
  assert.deepEqual(plan.delete, ['I1', 'F1']);
  for (const id of ['X1', 'X2', 'X3']) assert.ok(!plan.delete.includes(id) && !plan.keep.includes(id));
});

test('busy backups are left alone with their ancestors; failed ones are deleted and not counted', () => {
  const backups = [
    full('F1', 0),
    incr('I1', 1, 'F1'),
    full('F2', 2),
    incr('E1', 3, 'F2', { status: 'error' }),
    incr('C1', 4, 'I1', { status: 'creating' }),
    full('D1', 5, { status: 'deleting' }),
    full('F3', 6),
  ];
  const plan = planNativeRotation(backups, 1);
  assert.deepEqual(plan.leftAlone, ['D1', 'C1']);
  assert.deepEqual(plan.keep, ['F3', 'I1', 'F1'], 'C1 is being made on top of I1');
  assert.deepEqual(plan.delete, ['E1', 'F2']);
});

test('an incremental whose parent was not recorded keeps every older managed backup', () => {
  const backups = [full('F1', 0), incr('I1', 1, 'F1'), full('F2', 2), incr('I2', 3, null), full('F3', 4)];
  assert.deepEqual(planNativeRotation(backups, 2).delete, []);
  assert.deepEqual(planNativeRotation(backups, 1).delete, ['I2', 'F2', 'I1', 'F1']);
});

test('same-second backups: a child counts as newer than its parent and is deleted first', () => {
  const backups = [incr('b', 0, 'c'), full('c', 0), incr('a', 0, 'b'), full('z', 1)];
  const plan = planNativeRotation(backups, 1);
  assert.deepEqual(plan.keep, ['z']);
  assert.deepEqual(plan.delete, ['a', 'b', 'c']);
  const keep2 = planNativeRotation(backups, 2);
  assert.deepEqual(keep2.keep, ['z', 'a', 'b', 'c']);
});

test('parent links that form a cycle are never deleted', () => {
  const backups = [incr('A', 0, 'B'), incr('B', 1, 'A'), full('F', 2), full('G', 3)];
  const plan = planNativeRotation(backups, 1);
  assert.deepEqual(plan.delete, ['F']);
  assert.ok(plan.keep.includes('A') && plan.keep.includes('B'));
});

test('keep must be a whole number of at least 1', () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => planNativeRotation([full('F', 0)], bad), RangeError, String(bad));
    assert.match(invalidKeep(bad) ?? '', /at least 1/);
  }
  assert.equal(invalidKeep('2'), 'keep must be a whole number of at least 1 (got "2")');
  assert.equal(invalidKeep(1), undefined);
});

// -- randomized property test -------------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so that a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BUSY = ['creating', 'restoring', 'deleting', 'error_deleting'];

/** A random history of one volume's backups: chains of fulls and incrementals, some foreign, some failed or busy. */
function randomHistory(rand: () => number): RotationCandidate[] {
  const n = 1 + Math.floor(rand() * 25);
  const out: RotationCandidate[] = [];
  let minute = 0;
  for (let i = 0; i < n; i++) {
    if (rand() > 0.15) minute += 1 + Math.floor(rand() * 60); // else: the same second as the previous one
    const managed = rand() < 0.8;
    const status = rand() < 0.75 ? 'available' : rand() < 0.5 ? 'error' : BUSY[Math.floor(rand() * BUSY.length)]!;
    const parents = out.filter((b) => b.status === 'available');
    // Cinder builds on the newest available backup; edited or older histories may branch anywhere before.
    const parent = parents.length === 0 ? undefined : rand() < 0.6 ? parents[parents.length - 1] : parents[Math.floor(rand() * parents.length)];
    const incremental = parent !== undefined && rand() < 0.7;
    // Foreign backups carry no parent tag; a few of ours lost theirs.
    const parentId = incremental && managed && rand() > 0.05 ? parent.id : null;
    out.push({ id: `b${i}`, createdAt: at(minute), incremental, parentId, status, managed });
  }
  return out;
}

function shuffle<T>(items: readonly T[], rand: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

test('randomized: kept backups keep their ancestors, deletions respect dependencies, only our backups are touched', () => {
  const cases = 3000;
  for (let seed = 1; seed <= cases; seed++) {
    const rand = rng(seed);
    const backups = randomHistory(rand);
    const keep = 1 + Math.floor(rand() * 5);
    const plan = planNativeRotation(backups, keep);
    const ctx = `seed ${seed}, keep ${keep}: ${JSON.stringify(backups)} -> ${JSON.stringify(plan)}`;
    const byId = new Map(backups.map((b) => [b.id, b]));
    const managed = backups.filter((b) => b.managed);
    const deleted = new Set(plan.delete);
    const kept = new Set(plan.keep);
    const time = (b: RotationCandidate): number => Date.parse(`${b.createdAt}Z`);

    assert.equal(deleted.size, plan.delete.length, `no backup is deleted twice; ${ctx}`);
    for (const id of plan.delete) {
      const b = byId.get(id)!;
      assert.ok(b.managed, `only managed backups are deleted; ${ctx}`);
      assert.ok(b.status === 'available' || b.status === 'error', `only deletable states; ${ctx}`);
      assert.ok(!kept.has(id), `kept and deleted; ${ctx}`);
    }
    for (const id of plan.keep) assert.ok(byId.get(id)!.managed, `only managed backups are listed as kept; ${ctx}`);
    assert.deepEqual(new Set(plan.leftAlone), new Set(managed.filter((b) => BUSY.includes(b.status)).map((b) => b.id)), `busy ones are left alone; ${ctx}`);

    // The N newest available managed backups are kept (no deleted available backup is newer than the N-th kept one).
    const available = managed.filter((b) => b.status === 'available');
    const keptAvailable = available.filter((b) => kept.has(b.id));
    assert.ok(keptAvailable.length >= Math.min(keep, available.length), `at least N restore points stay; ${ctx}`);
    for (const id of plan.delete) {
      const d = byId.get(id)!;
      if (d.status !== 'available') continue;
      const newerKept = keptAvailable.filter((k) => time(k) >= time(d)).length;
      assert.ok(newerKept >= keep, `a deleted backup is older than the N kept ones; ${ctx}`);
    }

    // No ancestor of a kept or busy backup is deleted.
    for (const b of managed.filter((x) => kept.has(x.id) || BUSY.includes(x.status))) {
      const seen = new Set<string>();
      for (let cur: RotationCandidate | undefined = b; cur && !seen.has(cur.id); cur = cur.parentId ? byId.get(cur.parentId) : undefined) {
        seen.add(cur.id);
        assert.ok(!deleted.has(cur.id), `${cur.id}, needed by ${b.id}, is deleted; ${ctx}`);
      }
      if (b.incremental && b.parentId === null) {
        for (const o of managed) if (time(o) <= time(b)) assert.ok(!deleted.has(o.id), `unknown parent: older ${o.id} must stay; ${ctx}`);
      }
    }

    // Order: replayed against Cinder's rule (a backup with a dependant left cannot be deleted), every deletion works.
    const alive = new Set(backups.map((b) => b.id));
    for (const id of plan.delete) {
      const dependant = [...alive].find((x) => byId.get(x)!.parentId === id);
      assert.equal(dependant, undefined, `${id} deleted before its dependant ${dependant}; ${ctx}`);
      alive.delete(id);
    }

    // Everything else of ours in a deletable state goes ("delete the rest").
    for (const b of managed) {
      if ((b.status === 'available' || b.status === 'error') && !kept.has(b.id)) assert.ok(deleted.has(b.id), `${b.id} is neither kept nor deleted; ${ctx}`);
    }

    // The plan does not depend on the order Cinder lists the backups in.
    assert.deepEqual(planNativeRotation(shuffle(backups, rand), keep), plan, `listing order changed the plan; ${ctx}`);
    assert.throws(() => planNativeRotation(backups, 0), RangeError);
  }
});
