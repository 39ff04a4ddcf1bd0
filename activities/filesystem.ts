/** Node-local filesystem backup and restore: walk -> tar -> compress -> segments -> storage, and back. */
import { access, constants, lstat, mkdir, readdir } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { activityInfo, ApplicationFailure, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { backupPrefix, parseBackupTimestamp, segmentKey } from '../workflows/shared/naming';
import { chooseLevel } from '../workflows/shared/levels';
import type { LevelChoice } from '../workflows/shared/levels';
import { deletedSince, encodeIndex } from './file-index';
import type { IndexEntry } from './file-index';
import { selectRestorePoint } from '../workflows/shared/selection';
import { formatStorage } from '../workflows/shared/storage-url';
import type {
  BackupFsInput,
  BackupFsResult,
  BackupRef,
  BackupSummary,
  ListBackupsInput,
  RestoreFsInput,
  RestoreFsResult,
  StorageTarget,
  TransferProgress,
} from '../workflows/shared/types';
import { discardUncommitted, listManifests, restoreChainOf } from './catalog';
import { InvalidInputError, NoBackupFoundError, toFailure } from './failures';
import { TargetSet } from './fan-out';
import { keyFor, loadIndex, segmentAad } from './segment-store';
import type { Manifest } from './manifest';
import { MANIFEST_FORMAT, summarize } from './manifest';
import { DEFAULT_LEVELS } from '../workflows/shared/compression';
import { createCompressor, createDecompressor } from './pipeline/compress';
import { decryptSegment, loadKey } from './pipeline/encrypt';
import { readSegments, Segmenter } from './pipeline/segment';
import type { SegmentRecord } from './pipeline/segment';
import { extractTar } from './pipeline/tar-extract';
import type { DirMeta } from './pipeline/tar-extract';
import { parentsOf, safeEntryPath } from './pipeline/path-safety';
import { createThrottle } from './pipeline/throttle';
import { packSources } from './pipeline/tar-pack';
import { scanSources, sourcePrefixes } from './pipeline/walk';
import { ProgressReporter, WarningList } from './progress';
import { applyDirMeta, conflictsWithTarget, mergeStaging, RestoreConflictError, removeStaging, stagingPath } from './restore-target';
import type { OpenStorage } from './storage/registry';

export interface FsActivityDeps {
  openStorage: OpenStorage;
}

export interface FsBackupPlan {
  ref: BackupRef;
  estimate: { files: number; dirs: number; bytes: number };
  /** The level this backup takes; absent in plans made before levels existed (= a full level 0). */
  level?: LevelChoice;
}

/**
 * Removes what a level recorded as deleted from the staging folder. Names are checked like archive entries, and a
 * name below a symlink is skipped (it lies outside the tree; never followed).
 */
function applyDeletions(staging: string, deleted: readonly string[], links: Map<string, string>, dirs: Map<string, DirMeta>): void {
  const under = (name: string, rel: string): boolean => name === rel || name.startsWith(`${rel}/`);
  for (const name of deleted) {
    const rel = safeEntryPath(name);
    if (parentsOf(rel).some((p) => links.has(p))) continue;
    rmSync(join(staging, rel), { recursive: true, force: true });
    for (const k of [...links.keys()]) if (under(k, rel)) links.delete(k);
    for (const k of [...dirs.keys()]) if (under(k, rel)) dirs.delete(k);
  }
}

/** Whether `m` can be the base of a new level: same sources, same key, an index, and present on every target. */
function canBuildOn(m: Manifest, input: BackupFsInput, keyId: string | undefined, onEveryTarget: (ts: string) => boolean): boolean {
  const sources = JSON.stringify(sourcePrefixes(input.paths));
  return (
    m.index !== undefined &&
    JSON.stringify(m.sources) === sources &&
    JSON.stringify(m.exclude) === JSON.stringify(input.exclude) &&
    (m.encryption?.keyId ?? undefined) === keyId &&
    onEveryTarget(m.ref.timestamp)
  );
}

const RESULT_WARNINGS = 50;

const MANIFEST_WARNINGS = 10_000;

async function checkSources(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) throw new InvalidInputError('no source path given');
  const normalized = paths.map((p) => normalize(p).replace(/\/+$/, '') || '/');
  for (const [i, p] of normalized.entries()) {
    if (!isAbsolute(p)) throw new InvalidInputError(`source path ${p} is not absolute`);
    try {
      const st = await lstat(p);
      if (st.isDirectory()) await readdir(p);
      else if (st.isFile()) await access(p, constants.R_OK);
      else throw new InvalidInputError(`source path ${p} is neither a folder nor a regular file`);
    } catch (err) {
      if (err instanceof InvalidInputError) throw err;
      throw new InvalidInputError(`source path ${p} cannot be read on this node: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    for (const other of normalized.slice(i + 1)) {
      if (other === p || other.startsWith(`${p}/`) || p.startsWith(`${other}/`) || p === '/' || other === '/') {
        throw new InvalidInputError(`source paths ${p} and ${other} overlap`);
      }
    }
  }
}

async function withStorage<T>(open: OpenStorage, target: StorageTarget, fn: (d: ReturnType<OpenStorage>) => Promise<T>): Promise<T> {
  const driver = open(target);
  try {
    return await fn(driver);
  } finally {
    await driver.close();
  }
}

export function createFsActivities(deps: FsActivityDeps) {
  /** The level of the next backup, from the committed backups of this host/name on the targets. */
  const planLevel = async (input: BackupFsInput, ref: BackupRef, signal: AbortSignal): Promise<LevelChoice> => {
    if (!input.levels) return chooseLevel([], undefined, new Date());
    const filter = { host: ref.host, name: ref.name };
    const primary = await withStorage(deps.openStorage, input.storage, (d) => listManifests(d, filter, signal));
    const onCopies = await Promise.all(
      (input.copies ?? []).map((c) => withStorage(deps.openStorage, c, async (d) => new Set((await listManifests(d, filter, signal)).map((m) => m.ref.timestamp))))
    );
    const keyId = input.encryption ? (await loadKey(input.encryption)).id : undefined;
    const byTs = new Map(primary.map((m) => [m.ref.timestamp, m]));
    return chooseLevel(primary.map(summarize), input.levels, parseBackupTimestamp(ref.timestamp) ?? new Date(), (b) => {
      const m = byTs.get(b.ref.timestamp);
      return m !== undefined && canBuildOn(m, input, keyId, (ts) => onCopies.every((set) => set.has(ts)));
    });
  };

  return {
    /** Checks the sources and the storage before anything is written, and counts what will be read. */
    async planFsBackup(input: BackupFsInput & { timestamp: string }): Promise<FsBackupPlan> {
      const signal = cancellationSignal();
      await checkSources(input.paths);
      if (input.encryption) await loadKey(input.encryption); // a bad key reference fails before anything is written
      const ref: BackupRef = { host: input.node, name: input.name, timestamp: input.timestamp };
      // Every target must be writable now: the backup would otherwise fail only after reading the whole tree.
      for (const storage of [input.storage, ...(input.copies ?? [])]) {
        await withStorage(deps.openStorage, storage, async (driver) => {
          const probe = `${backupPrefix(ref)}/.probe`;
          await driver.put(probe, Buffer.from('permafrost'), { signal });
          await driver.remove(probe, { signal });
          for await (const obj of driver.list(`${backupPrefix(ref)}/`, { signal })) {
            throw new InvalidInputError(`${formatStorage(storage)} already holds data for backup ${backupPrefix(ref)} (${obj.key})`);
          }
        });
      }
      const estimate = await scanSources(sourcePrefixes(input.paths), {
        exclude: input.exclude,
        signal,
        onProgress: (t) => heartbeat({ phase: 'scanning', files: t.files, bytes: 0, totalBytes: t.bytes, segment: 0, storedBytes: 0 }),
      });
      const level = await planLevel(input, ref, signal);
      log.info('backup level chosen', { level: level.level, parent: level.parent, reason: level.reason });
      return { ref, estimate, level };
    },

    /** Streams the sources into storage; the manifest is written last. On failure or cancel nothing partial stays. */
    async backupFilesystem(input: BackupFsInput & FsBackupPlan): Promise<BackupFsResult> {
      const signal = cancellationSignal();
      const info = activityInfo();
      const { ref } = input;
      const startedAt = new Date();
      const key = input.encryption ? await loadKey(input.encryption) : undefined;
      // A retry after a crash re-reads the source but does not upload again what an earlier attempt stored.
      const targets = await TargetSet.open(deps.openStorage, [input.storage, ...(input.copies ?? [])], ref, { key, resume: info.attempt > 1, signal });
      try {
        const done = targets.firstManifest;
        if (targets.allCommitted && done) {
          return { ref, stats: done.stats, warnings: done.warnings.slice(0, RESULT_WARNINGS), targets: targets.outcomes() };
        }
        if (info.attempt > 1) {
          const last = (info.heartbeatDetails as Partial<TransferProgress> | undefined)?.segment ?? 0;
          log.info('resuming backup', { attempt: info.attempt, lastHeartbeatSegment: last, storedSegmentsFound: targets.found });
        }
        const progress = new ProgressReporter({ phase: 'reading', totalBytes: input.estimate.bytes });
        const warnings = new WarningList(MANIFEST_WARNINGS);
        const sources = sourcePrefixes(input.paths);
        const level = input.level ?? { level: 0, parent: null, chain: null, reason: 'full' };
        const base = level.parent ? (await targets.parentIndex({ ...ref, timestamp: level.parent }, key)).entries : undefined;
        const index = new Map<string, IndexEntry>();
        const { stream, done: packed } = packSources({
          sources,
          exclude: input.exclude,
          base,
          index,
          signal,
          onProgress: (s) => progress.update({ files: s.files, bytes: s.bytes }),
          onWarning: (m) => {
            warnings.add(m);
            log.warn('backup warning', { warning: m });
          },
        });
        let streamBytes = 0;
        let storedBytes = 0;
        const count = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            streamBytes += chunk.length;
            cb(null, chunk);
          },
        });
        const segmenter = new Segmenter(input.segmentSize, async (seg) => {
          storedBytes += await targets.store(seg);
          progress.update({ segment: seg.index + 1, storedBytes }, true);
        });
        try {
          const compressor = createCompressor(input.compression, input.compressionLevel);
          if (input.bandwidthLimit) await pipeline(stream, count, compressor, createThrottle(input.bandwidthLimit, signal), segmenter, { signal });
          else await pipeline(stream, count, compressor, segmenter, { signal });
          const stats = await packed;
          progress.update({ phase: 'committing', files: stats.files, bytes: stats.bytes }, true);
          const deleted = base ? deletedSince(base, index) : [];
          const manifestFor = (records: SegmentRecord[], stored: number, storedIndex: { size: number; sha256: string } | undefined): Manifest => ({
            format: MANIFEST_FORMAT,
            kind: 'fs',
            ref,
            level: level.level,
            chain: level.chain ?? ref.timestamp,
            parent: level.parent,
            index: storedIndex,
            createdAt: startedAt.toISOString(),
            completedAt: new Date().toISOString(),
            workflowId: info.workflowExecution?.workflowId ?? '',
            runId: info.workflowExecution?.runId ?? '',
            sources,
            exclude: input.exclude,
            compression: { algorithm: input.compression, level: input.compressionLevel ?? DEFAULT_LEVELS[input.compression] },
            encryption: key ? { algorithm: 'aes-256-gcm', keyId: key.id } : null,
            segmentSize: input.segmentSize,
            segments: records,
            stats: { ...stats, streamBytes, storedBytes: stored, segments: records.length },
            warnings: warnings.list(),
          });
          await targets.commit(encodeIndex({ entries: index, deleted }), manifestFor);
          await targets.discardFailed();
          const first = targets.firstManifest!;
          return { ref, stats: first.stats, warnings: first.warnings.slice(0, RESULT_WARNINGS), targets: targets.outcomes() };
        } catch (err) {
          const failure = toFailure(err);
          const retried = !signal.aborted && failure instanceof ApplicationFailure && !failure.nonRetryable;
          if (retried) {
            log.warn('backup attempt failed; stored segments are kept for the next attempt', { error: String(err) });
          } else {
            // Cancelled or permanent: the segments are useless without a manifest. The workflow's undo does the
            // same if this worker dies before getting here.
            await targets.discardAll();
            log.warn('backup failed; uncommitted data removed', { error: String(err) });
          }
          throw failure;
        } finally {
          progress.stop();
        }
      } finally {
        await targets.close();
      }
    },

    /** Undo of backupFilesystem: removes an uncommitted backup's objects; a committed backup is kept. Idempotent. */
    async discardUncommittedBackup(input: { storage: StorageTarget; ref: BackupRef }): Promise<{ committed: boolean; removed: number }> {
      return withStorage(deps.openStorage, input.storage, (driver) => discardUncommitted(driver, input.ref, cancellationSignal()));
    },

    async listStoredBackups(input: ListBackupsInput): Promise<BackupSummary[]> {
      return withStorage(deps.openStorage, input.storage, async (driver) => {
        const manifests = await listManifests(driver, { host: input.host, name: input.name }, cancellationSignal(), (key, reason) => {
          log.warn('unreadable manifest skipped', { key, reason });
        });
        return manifests.map(summarize);
      });
    },

    /** The backup a restore will read: exact timestamp, newest at or before a date, or newest. */
    async selectBackup(input: RestoreFsInput): Promise<BackupSummary> {
      const host = input.host ?? input.node;
      const backups = await withStorage(deps.openStorage, input.storage, (driver) =>
        listManifests(driver, { host, name: input.name }, cancellationSignal())
      );
      const chosen = selectRestorePoint(backups.map(summarize), { timestamp: input.timestamp, fromDate: input.fromDate });
      if (!chosen.ok) throw new NoBackupFoundError(`${host}_${input.name} in ${formatStorage(input.storage)}: ${chosen.reason}`);
      return chosen.backup;
    },

    /** The backups a restore of `ref` applies, level 0 first (its chain); fails when a link is missing. */
    async planRestore(input: { storage: StorageTarget; ref: BackupRef }): Promise<BackupSummary[]> {
      return withStorage(deps.openStorage, input.storage, async (driver) => (await restoreChainOf(driver, input.ref, cancellationSignal())).map(summarize));
    },

    /** Verifies and extracts a backup into a staging folder, then moves it into the target. */
    async restoreFilesystem(input: RestoreFsInput & { ref: BackupRef; stagingId: string }): Promise<RestoreFsResult> {
      const signal = cancellationSignal();
      const target = normalize(input.target);
      if (!isAbsolute(target)) throw new InvalidInputError(`target ${target} is not absolute`);
      await mkdir(target, { recursive: true });
      const staging = stagingPath(target, input.stagingId);
      await removeStaging(staging); // a retry starts over
      await mkdir(staging, { mode: 0o700 });
      const restoreOwners = process.getuid?.() === 0;
      const warnings = new WarningList(RESULT_WARNINGS);
      try {
        return await withStorage(deps.openStorage, input.storage, async (driver) => {
          const chain = await restoreChainOf(driver, input.ref, signal);
          const keys = await Promise.all(chain.map((m) => keyFor(m, input.encryption)));
          const total = chain.reduce((n, m) => n + m.stats.bytes, 0);
          const progress = new ProgressReporter({ phase: 'writing', totalBytes: total });
          const links = new Map<string, string>();
          const dirs = new Map<string, DirMeta>();
          const sum = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0 };
          try {
            for (const [i, manifest] of chain.entries()) {
              const key = keys[i];
              // A level replays what was deleted since its parent before its own entries.
              if (i > 0) applyDeletions(staging, (await loadIndex(driver, manifest, key, signal)).deleted, links, dirs);
              const bytes = readSegments(
                manifest.segments,
                (index) => driver.get(segmentKey(manifest.ref, index), { signal }),
                (index) => progress.update({ segment: index + 1 }),
                key ? (index, stored) => decryptSegment(stored, key, segmentAad(manifest.ref, index)) : undefined
              );
              // pipeline() (unlike pipe()) carries a corrupt segment's error into the decompressor, and so to extractTar.
              const decompressed = createDecompressor(manifest.compression.algorithm);
              const source = Readable.from(bytes);
              (input.bandwidthLimit
                ? pipeline(source, createThrottle(input.bandwidthLimit, signal), decompressed, { signal })
                : pipeline(source, decompressed, { signal })
              ).catch(() => undefined);
              const done = sum.bytes;
              const result = await extractTar(decompressed, {
                root: staging,
                layer: i > 0,
                links,
                allowExternalSymlinks: input.allowExternalSymlinks,
                restoreOwners,
                signal,
                onWarning: (m) => warnings.add(m),
                onProgress: (s) => progress.update({ files: sum.files + s.files, bytes: done + s.bytes }),
                // A single full backup fails early on a conflict; a chain is checked on its final tree, before the move.
                beforeEntry:
                  input.overwrite || chain.length > 1
                    ? undefined
                    : async (rel, type) => {
                        if (await conflictsWithTarget(target, rel, type)) throw new RestoreConflictError([rel]);
                      },
              });
              for (const d of result.dirs) dirs.set(d.rel, d);
              for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += result.stats[k];
            }
            progress.update({ phase: 'moving' }, true);
            await mergeStaging(staging, target, input.overwrite);
            await applyDirMeta(target, [...dirs.values()], restoreOwners);
            return { ref: input.ref, target, ...sum, warnings: warnings.list(), chain: chain.map((m) => m.ref) };
          } finally {
            progress.stop();
          }
        });
      } finally {
        await removeStaging(staging);
      }
    },

    /** Undo of restoreFilesystem: removes its staging folder (the target itself is never touched). Idempotent. */
    async discardRestoreStaging(input: { target: string; stagingId: string }): Promise<void> {
      await removeStaging(stagingPath(normalize(input.target), input.stagingId));
    },
  };
}

export type FsActivities = ReturnType<typeof createFsActivities>;
