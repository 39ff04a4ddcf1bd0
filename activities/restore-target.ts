/**
 * The restore target: entries are extracted into a staging folder inside the target (same filesystem), and moved
 * into place only once the whole archive was read and verified. A failed or cancelled restore therefore leaves the
 * target as it was. Existing files are replaced only with `overwrite`; a non-empty folder is never replaced.
 */
import { lstatSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { chmod, chown, lstat, readdir, rename, rm, rmdir, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { DirMeta } from './pipeline/tar-extract';

export const STAGING_PREFIX = '.permafrost-restore-';

/** Thrown when the target holds something the restore would replace, and overwriting was not asked for. */
export class RestoreConflictError extends Error {
  override readonly name = 'RestoreConflictError';
  constructor(readonly paths: string[]) {
    super(
      `the target already holds ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ` and ${paths.length - 5} more` : ''}; ` +
        'nothing was changed (pass --overwrite to replace existing files)'
    );
  }
}

/** The staging folder of one restore run; `id` comes from the workflow id, so a retry finds and replaces it. */
export function stagingPath(target: string, id: string): string {
  return join(target, `${STAGING_PREFIX}${id.replace(/[^A-Za-z0-9._-]/g, '_')}`);
}

/**
 * Synchronous: called for every entry of a restore (conflict checks), where a thread-pool round trip and an ENOENT
 * error object per absent path cost far more than the lstat itself.
 */
function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * Whether writing an entry of `type` at `rel` would replace something in the target. Folders merge with folders.
 * (A promise for its callers; the check itself is one synchronous lstat.)
 */
export function conflictsWithTarget(target: string, rel: string, type: string): Promise<boolean> {
  try {
    const existing = lstatOrUndefined(join(target, rel));
    return Promise.resolve(existing !== undefined && !(type === 'directory' && existing.isDirectory()));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Moves the staged tree into the target. With `overwrite` false, any conflict fails before anything moves. */
export async function mergeStaging(staging: string, target: string, overwrite: boolean): Promise<void> {
  const conflicts: string[] = [];
  await walkPairs(staging, target, '', async (rel, staged, existing) => {
    if (!existing || (staged.isDirectory() && existing.isDirectory())) return 'descend';
    if (existing.isDirectory() && (await readdir(join(target, rel))).length > 0) {
      throw new RestoreConflictError([`${rel} (a non-empty folder, never replaced)`]);
    }
    conflicts.push(rel);
    return 'skip';
  });
  if (conflicts.length > 0 && !overwrite) throw new RestoreConflictError(conflicts);

  await walkPairs(staging, target, '', async (rel, staged, existing) => {
    const from = join(staging, rel);
    const to = join(target, rel);
    if (existing && staged.isDirectory() && existing.isDirectory()) return 'descend';
    if (existing) {
      if (existing.isDirectory()) await rmdir(to);
      else await unlink(to);
    }
    await rename(from, to);
    return 'skip';
  });
}

type Visit = (rel: string, staged: Stats, existing: Stats | undefined) => Promise<'descend' | 'skip'>;

async function walkPairs(staging: string, target: string, rel: string, visit: Visit): Promise<void> {
  for (const name of (await readdir(rel === '' ? staging : join(staging, rel))).sort()) {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const staged = await lstat(join(staging, childRel));
    const existing = lstatOrUndefined(join(target, childRel));
    if ((await visit(childRel, staged, existing)) === 'descend' && staged.isDirectory()) {
      await walkPairs(staging, target, childRel, visit);
    }
  }
}

/** Applies archived folder modes, owners and mtimes, innermost first (writing inside a folder changes its mtime). */
export async function applyDirMeta(target: string, dirs: readonly DirMeta[], restoreOwners: boolean): Promise<void> {
  const sorted = [...dirs].sort((a, b) => b.rel.split('/').length - a.rel.split('/').length);
  for (const d of sorted) {
    const path = join(target, d.rel);
    const st = lstatOrUndefined(path);
    if (!st?.isDirectory()) continue;
    if (restoreOwners) await chown(path, d.uid, d.gid).catch(() => undefined);
    await chmod(path, d.mode);
    await utimes(path, d.mtime, d.mtime);
  }
}

export async function removeStaging(staging: string): Promise<void> {
  await rm(staging, { recursive: true, force: true });
}
