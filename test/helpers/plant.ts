/** Backups written straight into a storage, with chosen timestamps and chain fields (retention and GC tests). */
import { createHash } from 'node:crypto';
import { commitManifest } from '../../activities/catalog';
import { MANIFEST_FORMAT } from '../../activities/manifest';
import type { StorageDriver } from '../../activities/storage/driver';
import { formatBackupTimestamp, manifestKey, segmentKey } from '../../workflows/shared/naming';
import type { BackupRef } from '../../workflows/shared/types';
import { buildTar } from './malicious-tar';
import type { EntrySpec } from './malicious-tar';

export const DAY = 86_400_000;

/** The backup timestamp `days` (fractions allowed) before now. */
export function ago(days: number, now = Date.now()): string {
  return formatBackupTimestamp(new Date(now - days * DAY));
}

export interface PlantOptions {
  /** Defaults: a level 0 (chain = own timestamp, no parent). */
  level?: number;
  chain?: string;
  parent?: string | null;
  /** Files of the archive: name -> content. */
  files?: Record<string, string>;
  /** Raw archive entries instead of `files` (hostile ones included, for restore-safety tests). */
  entries?: EntrySpec[];
  /** The archive is split into this many segments (default 2). */
  segments?: number;
  /** Write the segments only (an uncommitted backup). */
  uncommitted?: boolean;
}

/** A restorable backup (uncompressed tar, unencrypted) at `ref`; returns the number of objects written. */
export async function plantBackup(driver: StorageDriver, ref: BackupRef, opts: PlantOptions = {}): Promise<number> {
  const files = opts.files ?? { [`file-${ref.timestamp}.txt`]: `content of ${ref.timestamp}\n` };
  const tar = await buildTar(opts.entries ?? Object.entries(files).map(([name, body]) => ({ name, body, mtime: new Date(0) })));
  const count = opts.segments ?? 2;
  const size = Math.ceil(tar.length / count);
  const segments = [];
  for (let i = 0; i < count; i++) {
    const chunk = tar.subarray(i * size, Math.min(tar.length, (i + 1) * size));
    await driver.put(segmentKey(ref, i), chunk);
    segments.push({ index: i, size: chunk.length, sha256: createHash('sha256').update(chunk).digest('hex') });
  }
  if (opts.uncommitted) return count;
  const level = opts.level ?? 0;
  const bytes = Object.values(files).reduce((n, b) => n + Buffer.byteLength(b), 0);
  await commitManifest(driver, {
    format: MANIFEST_FORMAT,
    kind: 'fs',
    ref,
    level,
    chain: opts.chain ?? ref.timestamp,
    parent: opts.parent ?? null,
    createdAt: new Date().toISOString(),
    completedAt: new Date().toISOString(),
    workflowId: 'planted',
    runId: 'planted',
    sources: [{ path: '/planted', prefix: '' }],
    exclude: [],
    compression: { algorithm: 'none' },
    encryption: null,
    segmentSize: size,
    segments,
    stats: { files: Object.keys(files).length, dirs: 0, symlinks: 0, hardlinks: 0, bytes, streamBytes: tar.length, storedBytes: tar.length, segments: count },
    warnings: [],
  });
  return count + 1;
}

/** Whether the backup's manifest exists. */
export async function isCommitted(driver: StorageDriver, ref: BackupRef): Promise<boolean> {
  return (await driver.stat(manifestKey(ref))) !== undefined;
}

/** Every key under a backup's folder, temp files included. */
export async function keysOf(driver: StorageDriver, ref: BackupRef): Promise<string[]> {
  const out: string[] = [];
  for await (const o of driver.list(`${ref.host}_${ref.name}/${ref.timestamp}/`, { includeTemporary: true })) out.push(o.key);
  return out;
}
