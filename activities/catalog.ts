/** Backups as stored objects: commit, read, list and discard, over any StorageDriver. */
import { manifestKey, MANIFEST_FILE, backupPrefix, parseBackupId } from '../workflows/shared/naming';
import type { BackupRef } from '../workflows/shared/types';
import type { StorageDriver } from './storage/driver';
import { StorageError } from './storage/driver';
import type { Manifest } from './manifest';
import { parseManifest, summarize } from './manifest';
import { restoreChain } from '../workflows/shared/levels';
import { CorruptBackupError, NoBackupFoundError } from './failures';

/** An object's whole content (manifests, and segments when they are checked). */
export async function readAll(driver: StorageDriver, key: string, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await driver.get(key, { signal })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes the manifest: the commit point of a backup. */
export async function commitManifest(driver: StorageDriver, manifest: Manifest, signal?: AbortSignal): Promise<void> {
  await driver.put(manifestKey(manifest.ref), Buffer.from(JSON.stringify(manifest, null, 2)), { signal });
}

export async function readManifest(driver: StorageDriver, ref: BackupRef, signal?: AbortSignal): Promise<Manifest | undefined> {
  try {
    return parseManifest(await readAll(driver, manifestKey(ref), signal), ref);
  } catch (err) {
    if (err instanceof StorageError && err.code === 'NotFound') return undefined;
    throw err;
  }
}

export interface ListFilter {
  host?: string;
  name?: string;
}

/** Committed backups, oldest first. Folders without a manifest (running, failed, cancelled) are not listed. */
export async function listManifests(
  driver: StorageDriver,
  filter: ListFilter,
  signal?: AbortSignal,
  onSkip?: (key: string, reason: string) => void
): Promise<Manifest[]> {
  const prefix = filter.host !== undefined && filter.name !== undefined ? `${filter.host}_${filter.name}/` : '';
  const out: Manifest[] = [];
  for await (const obj of driver.list(prefix, { signal })) {
    if (!obj.key.endsWith(`/${MANIFEST_FILE}`)) continue;
    const ref = parseBackupId(obj.key.slice(0, -MANIFEST_FILE.length - 1));
    if (!ref) continue;
    if ((filter.host !== undefined && ref.host !== filter.host) || (filter.name !== undefined && ref.name !== filter.name)) continue;
    try {
      const manifest = await readManifest(driver, ref, signal);
      if (manifest) out.push(manifest);
    } catch (err) {
      onSkip?.(obj.key, (err as Error).message);
    }
  }
  return out.sort((a, b) => (a.ref.timestamp < b.ref.timestamp ? -1 : 1));
}

/**
 * Removes every object of a backup that was never committed (segments, leftover temp files). A committed backup is
 * left alone. Idempotent; returns whether the backup is committed and how many objects were removed.
 */
export async function discardUncommitted(
  driver: StorageDriver,
  ref: BackupRef,
  signal?: AbortSignal
): Promise<{ committed: boolean; removed: number }> {
  if (await driver.stat(manifestKey(ref), { signal })) return { committed: true, removed: 0 };
  let removed = 0;
  for await (const obj of driver.list(`${backupPrefix(ref)}/`, { signal, includeTemporary: true })) {
    await driver.remove(obj.key, { signal });
    removed++;
  }
  return { committed: false, removed };
}

/** The manifests a restore of `ref` applies, level 0 first; fails clearly when a link of the chain is missing. */
export async function restoreChainOf(driver: StorageDriver, ref: BackupRef, signal: AbortSignal): Promise<Manifest[]> {
  const target = await readManifest(driver, ref, signal);
  if (!target) throw new NoBackupFoundError(`backup ${backupPrefix(ref)} has no manifest (not committed or deleted)`);
  if ((target.parent ?? null) === null) return [target];
  const all = await listManifests(driver, { host: ref.host, name: ref.name }, signal);
  const byTs = new Map(all.map((m) => [m.ref.timestamp, m]));
  const chain = restoreChain(all.map(summarize), summarize(target));
  if (!chain) throw new CorruptBackupError(`the chain of ${backupPrefix(ref)} is broken: a backup it depends on is missing`);
  return chain.map((b) => byTs.get(b.ref.timestamp)!);
}

