/**
 * Keep-N rotation of the Cinder backups permafrost made of one volume. Pure (sandbox-safe): the workflow plans, so
 * the plan is in its history, and the node deletes one backup at a time in the planned order.
 *
 * Rules:
 * - Only backups permafrost made (`permafrost_managed`) are counted or deleted; any other backup of the volume is
 *   invisible to the rotation.
 * - The N newest `available` managed backups are kept, and with them every managed backup they build on (an
 *   incremental's parent, recorded in `permafrost_parent`, its parent ...).
 * - A managed backup that is busy (`creating`, `restoring`, `deleting`, `error_deleting` ...) is left alone, and so
 *   are its ancestors (a backup being made right now needs its parent).
 * - The rest (available or error) is deleted, dependants always before their parent, newest first otherwise.
 * - An incremental whose parent was not recorded protects every older managed backup (which one it needs is unknown).
 */

export interface RotationCandidate {
  id: string;
  /** Cinder `created_at` (ISO 8601, with or without a zone; UTC). */
  createdAt: string;
  incremental: boolean;
  /** The backup it builds on (`permafrost_parent`); null for a full backup or when unknown. */
  parentId: string | null;
  status: string;
  /** Made by permafrost (`permafrost_managed`). */
  managed: boolean;
}

export interface RotationPlan {
  /** The N newest available managed backups and what they need, newest first. */
  keep: string[];
  /** Managed backups to delete, in this order (a dependant always before its parent). */
  delete: string[];
  /** Managed backups in a busy state (and their ancestors are kept). */
  leftAlone: string[];
}

/** States in which Cinder lets a backup be deleted. */
const DELETABLE = new Set(['available', 'error']);

/** Why `keep` is not a valid keep count, or undefined. */
export function invalidKeep(keep: unknown): string | undefined {
  if (typeof keep !== 'number' || !Number.isInteger(keep) || keep < 1) return `keep must be a whole number of at least 1 (got ${JSON.stringify(keep)})`;
  return undefined;
}

function timeOf(createdAt: string): number {
  const t = Date.parse(/(?:[zZ]|[+-]\d{2}:?\d{2})$/.test(createdAt) ? createdAt : `${createdAt}Z`);
  return Number.isNaN(t) ? 0 : t;
}

/** Plans which managed backups of one volume to delete so that `keep` restore points remain. */
export function planNativeRotation(backups: readonly RotationCandidate[], keep: number): RotationPlan {
  const problem = invalidKeep(keep);
  if (problem !== undefined) throw new RangeError(problem);

  const managed = new Map<string, RotationCandidate>();
  for (const b of backups) if (b.managed && !managed.has(b.id)) managed.set(b.id, b);

  // Newest first: by creation time, then deeper in its chain (a child created in the same second as its parent is
  // newer), then by id so that the plan never depends on the listing order.
  const depthCache = new Map<string, number>();
  const depth = (id: string): number => {
    const seen = new Set<string>();
    let d = 0;
    let cur = managed.get(id);
    while (cur?.parentId && managed.has(cur.parentId) && !seen.has(cur.id)) {
      seen.add(cur.id);
      const cached = depthCache.get(cur.parentId);
      if (cached !== undefined) {
        d += 1 + cached;
        break;
      }
      d += 1;
      cur = managed.get(cur.parentId);
    }
    depthCache.set(id, d);
    return d;
  };
  const newestFirst = (a: RotationCandidate, b: RotationCandidate): number =>
    timeOf(b.createdAt) - timeOf(a.createdAt) || depth(b.id) - depth(a.id) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  const ordered = [...managed.values()].sort(newestFirst);

  const protectedIds = new Set<string>();
  /** Protects `b` and everything it builds on. */
  const protect = (b: RotationCandidate): void => {
    let cur: RotationCandidate | undefined = b;
    while (cur && !protectedIds.has(cur.id)) {
      protectedIds.add(cur.id);
      if (cur.incremental && cur.parentId === null) {
        // Which backup it needs is unknown: every older managed backup stays.
        const t = timeOf(cur.createdAt);
        for (const other of ordered) if (other.id !== cur.id && timeOf(other.createdAt) <= t) protect(other);
        return;
      }
      cur = cur.parentId === null ? undefined : managed.get(cur.parentId);
    }
  };

  const kept = ordered.filter((b) => b.status === 'available').slice(0, keep);
  for (const b of kept) protect(b);
  const busy = ordered.filter((b) => !DELETABLE.has(b.status));
  for (const b of busy) protect(b);

  const doomed = ordered.filter((b) => !protectedIds.has(b.id));
  // Topological order: a backup is deleted only after every doomed backup that builds on it; among those ready, the
  // newest first. Parent links that form a cycle (never made by Cinder, only by edited tags) are left alone.
  const children = new Map<string, number>();
  for (const b of doomed) if (b.parentId !== null && b.parentId !== b.id) children.set(b.parentId, (children.get(b.parentId) ?? 0) + 1);
  const order: string[] = [];
  const remaining = new Set(doomed.map((b) => b.id));
  for (;;) {
    const next = doomed.find((b) => remaining.has(b.id) && (children.get(b.id) ?? 0) === 0);
    if (!next) break;
    remaining.delete(next.id);
    order.push(next.id);
    if (next.parentId !== null && remaining.has(next.parentId)) children.set(next.parentId, (children.get(next.parentId) ?? 1) - 1);
  }
  for (const id of remaining) {
    const b = managed.get(id);
    if (b) protect(b);
  }

  return {
    keep: ordered.filter((b) => protectedIds.has(b.id) && DELETABLE.has(b.status)).map((b) => b.id),
    // A backup protected only now (a cycle's ancestor) stays, and with it what it needs.
    delete: order.filter((id) => !protectedIds.has(id)),
    leftAlone: busy.map((b) => b.id),
  };
}
