/**
 * Node activities of retention and garbage collection: delete one committed backup (manifest first, so a
 * half-deleted backup is never listed), and find and remove uncommitted folders older than a grace period.
 */
import { cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { backupId, backupPrefix, manifestKey, MANIFEST_FILE, parseBackupId, parseBackupTimestamp } from '../workflows/shared/naming';
import type {
  BackupRef,
  DeleteBackupInput,
  DeleteBackupResult,
  FindUncommittedInput,
  RemoveUncommittedInput,
  RemoveUncommittedResult,
  StorageTarget,
  UncommittedFolder,
} from '../workflows/shared/types';
import { discardUncommitted, readAll } from './catalog';
import { InvalidInputError } from './failures';
import type { StorageDriver } from './storage/driver';
import { StorageError } from './storage/driver';
import type { OpenStorage } from './storage/registry';

/** A backup cannot be deleted: a committed backup of the same name is based on it (or cannot be read to tell). */
export class BackupHasDependentsError extends Error {
  override readonly name = 'BackupHasDependentsError';
}

export interface RetentionActivityDeps {
  openStorage: OpenStorage;
}

async function withStorage<T>(open: OpenStorage, target: StorageTarget, fn: (d: StorageDriver) => Promise<T>): Promise<T> {
  const driver = open(target);
  try {
    return await fn(driver);
  } finally {
    await driver.close();
  }
}

/**
 * Committed backups of `ref`'s host and name that depend on it: their manifest names it as parent (or as chain for a
 * level > 0). Only newer backups are read: a backup is always based on an older one. Manifests are read loosely
 * (any JSON with these fields), so that a manifest this version cannot fully parse still protects its ancestors.
 */
async function dependantsOf(driver: StorageDriver, ref: BackupRef, signal: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  let seen = 0;
  for await (const obj of driver.list(`${ref.host}_${ref.name}/`, { signal })) {
    if (++seen % 200 === 0) heartbeat();
    if (!obj.key.endsWith(`/${MANIFEST_FILE}`)) continue;
    const other = parseBackupId(obj.key.slice(0, -MANIFEST_FILE.length - 1));
    if (!other || other.timestamp <= ref.timestamp) continue;
    let raw: Buffer;
    try {
      raw = await readAll(driver, obj.key, signal);
    } catch (err) {
      if (err instanceof StorageError && err.code === 'NotFound') continue; // deleted meanwhile
      throw err;
    }
    let m: { parent?: unknown; chain?: unknown; level?: unknown };
    try {
      m = JSON.parse(raw.toString('utf8')) as typeof m;
    } catch {
      throw new BackupHasDependentsError(`cannot tell whether ${backupId(other)} depends on ${backupId(ref)}: its manifest is not JSON; not deleting`);
    }
    const dependsByChain = typeof m.level === 'number' && m.level > 0 && m.chain === ref.timestamp;
    if (m.parent === ref.timestamp || dependsByChain) out.push(other.timestamp);
    heartbeat();
  }
  return out;
}

/** `<host>_<name>/<timestamp>/...` -> the backup folder it belongs to, or undefined for keys outside the layout. */
function folderOf(key: string): BackupRef | undefined {
  const [group, stamp, rest] = key.split('/', 3);
  if (group === undefined || stamp === undefined || rest === undefined) return undefined;
  return parseBackupId(`${group}/${stamp}`);
}

function cutoffOf(input: FindUncommittedInput): number {
  const now = Date.parse(input.now);
  if (!Number.isFinite(now)) throw new InvalidInputError(`"now" ${JSON.stringify(input.now)} is not an ISO 8601 instant`);
  if (!Number.isSafeInteger(input.graceMs) || input.graceMs < 0) throw new InvalidInputError(`grace ${input.graceMs} ms is not a non-negative duration`);
  return now - input.graceMs;
}

/** Every uncommitted backup folder of the storage whose timestamp is before `cutoff`, oldest first. */
async function scanUncommitted(driver: StorageDriver, cutoff: number, signal: AbortSignal): Promise<UncommittedFolder[]> {
  const folders = new Map<string, UncommittedFolder & { committed: boolean }>();
  let seen = 0;
  for await (const obj of driver.list('', { signal, includeTemporary: true })) {
    if (++seen % 1000 === 0) heartbeat({ objects: seen });
    const ref = folderOf(obj.key);
    if (!ref) continue;
    const id = backupPrefix(ref);
    const f = folders.get(id) ?? { ref, objects: 0, temporary: 0, bytes: 0, committed: false };
    if (obj.key === manifestKey(ref)) f.committed = true;
    f.objects++;
    f.bytes += obj.size;
    if (obj.temporary) f.temporary++;
    folders.set(id, f);
  }
  return [...folders.values()]
    .filter((f) => !f.committed && (parseBackupTimestamp(f.ref.timestamp)?.getTime() ?? Infinity) < cutoff)
    .sort((a, b) => (backupPrefix(a.ref) < backupPrefix(b.ref) ? -1 : 1))
    .map(({ committed: _c, ...f }) => f);
}

export function createRetentionActivities(deps: RetentionActivityDeps) {
  return {
    /**
     * Deletes one committed backup: refuses if a committed backup of the same name depends on it (checked now, not
     * when the prune was planned), then removes the manifest (from here on it is not listed, so never restorable
     * half-deleted), then every other object of its folder, temp files included. Idempotent: a retry after a crash
     * finds no manifest and removes what is left.
     */
    async deleteBackup(input: DeleteBackupInput): Promise<DeleteBackupResult> {
      const signal = cancellationSignal();
      const { ref } = input;
      return withStorage(deps.openStorage, input.storage, async (driver) => {
        const dependants = await dependantsOf(driver, ref, signal);
        if (dependants.length > 0) {
          throw new BackupHasDependentsError(`${backupId(ref)} is needed by ${dependants.join(', ')}; not deleting`);
        }
        const wasCommitted = (await driver.stat(manifestKey(ref), { signal })) !== undefined;
        let objects = 0;
        if (wasCommitted) {
          await driver.remove(manifestKey(ref), { signal });
          objects++;
        }
        const keys: string[] = [];
        for await (const obj of driver.list(`${backupPrefix(ref)}/`, { signal, includeTemporary: true })) keys.push(obj.key);
        for (const key of keys) {
          await driver.remove(key, { signal });
          objects++;
          heartbeat({ removed: objects, of: keys.length + (wasCommitted ? 1 : 0) });
        }
        log.info('backup deleted', { backup: backupId(ref), objects, wasCommitted });
        return { ref, wasCommitted, objects };
      });
    },

    /** Folders under `<host>_<name>/<timestamp>/` without a manifest whose timestamp is older than now - grace. */
    async findUncommitted(input: FindUncommittedInput): Promise<UncommittedFolder[]> {
      const cutoff = cutoffOf(input);
      return withStorage(deps.openStorage, input.storage, (driver) => scanUncommitted(driver, cutoff, cancellationSignal()));
    },

    /**
     * Removes the given uncommitted folders, each checked again first: its timestamp is still before the cutoff and it
     * has no manifest (a folder committed meanwhile is skipped, never touched). Idempotent.
     */
    async removeUncommitted(input: RemoveUncommittedInput): Promise<RemoveUncommittedResult> {
      const signal = cancellationSignal();
      const cutoff = cutoffOf(input);
      return withStorage(deps.openStorage, input.storage, async (driver) => {
        const removed: UncommittedFolder[] = [];
        const skipped: RemoveUncommittedResult['skipped'] = [];
        for (const ref of input.refs) {
          const at = parseBackupTimestamp(ref.timestamp)?.getTime();
          if (at === undefined || at >= cutoff) {
            skipped.push({ ref, reason: 'not older than the grace period' });
            continue;
          }
          let objects = 0;
          let temporary = 0;
          let bytes = 0;
          for await (const obj of driver.list(`${backupPrefix(ref)}/`, { signal, includeTemporary: true })) {
            objects++;
            bytes += obj.size;
            if (obj.temporary) temporary++;
          }
          const r = await discardUncommitted(driver, ref, signal);
          if (r.committed) {
            skipped.push({ ref, reason: 'committed (it has a manifest now)' });
            continue;
          }
          removed.push({ ref, objects, temporary, bytes });
          heartbeat({ folders: removed.length, of: input.refs.length });
          log.info('uncommitted folder removed', { backup: backupId(ref), objects });
        }
        return { removed, skipped };
      });
    },
  };
}

export type RetentionActivities = ReturnType<typeof createRetentionActivities>;
