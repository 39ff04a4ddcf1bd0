/** Node-local filesystem backup and restore: walk -> tar -> compress -> segments -> storage, and back. */
import { access, constants, lstat, mkdir, readdir } from 'node:fs/promises';
import { isAbsolute, normalize } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { activityInfo, ApplicationFailure, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { backupId, backupPrefix, segmentKey } from '../workflows/shared/naming';
import { selectRestorePoint } from '../workflows/shared/selection';
import { formatStorage } from '../workflows/shared/storage-url';
import type {
  BackupFsInput,
  BackupFsResult,
  BackupRef,
  BackupSummary,
  EncryptionRef,
  ListBackupsInput,
  RestoreFsInput,
  RestoreFsResult,
  StorageTarget,
  TransferProgress,
} from '../workflows/shared/types';
import { discardUncommitted, listManifests, readManifest } from './catalog';
import { EncryptionKeyMismatchError, InvalidInputError, NoBackupFoundError, toFailure } from './failures';
import { TargetSet } from './fan-out';
import { segmentAad } from './segment-store';
import type { Manifest } from './manifest';
import { MANIFEST_FORMAT, summarize } from './manifest';
import { DEFAULT_LEVELS } from '../workflows/shared/compression';
import { createCompressor, createDecompressor } from './pipeline/compress';
import { decryptSegment, loadKey } from './pipeline/encrypt';
import type { SegmentKey } from './pipeline/encrypt';
import { readSegments, Segmenter } from './pipeline/segment';
import type { SegmentRecord } from './pipeline/segment';
import { extractTar } from './pipeline/tar-extract';
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
}

const RESULT_WARNINGS = 50;

/** The key for reading `manifest`'s segments, checked against the key id it was written with, before any read. */
async function restoreKey(manifest: Manifest, ref: EncryptionRef | undefined): Promise<SegmentKey | undefined> {
  if (!manifest.encryption) return undefined;
  if (!ref) throw new InvalidInputError(`backup ${backupId(manifest.ref)} is encrypted: give its key (--key-file or --key-env)`);
  const key = await loadKey(ref);
  if (key.id !== manifest.encryption.keyId) {
    throw new EncryptionKeyMismatchError(
      `the given key (id ${key.id}) is not the key backup ${backupId(manifest.ref)} was encrypted with (id ${manifest.encryption.keyId})`
    );
  }
  return key;
}
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
      return { ref, estimate };
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
        const { stream, done: packed } = packSources({
          sources,
          exclude: input.exclude,
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
          const manifestFor = (records: SegmentRecord[], stored: number): Manifest => ({
            format: MANIFEST_FORMAT,
            kind: 'fs',
            ref,
            level: 0,
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
          await targets.commit(manifestFor);
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
          const manifest = await readManifest(driver, input.ref, signal);
          if (!manifest) throw new NoBackupFoundError(`backup ${backupPrefix(input.ref)} has no manifest (not committed or deleted)`);
          const key = await restoreKey(manifest, input.encryption);
          const progress = new ProgressReporter({ phase: 'writing', totalBytes: manifest.stats.bytes });
          try {
            const bytes = readSegments(
              manifest.segments,
              (index) => driver.get(segmentKey(input.ref, index), { signal }),
              (index) => progress.update({ segment: index + 1 }),
              key ? (index, stored) => decryptSegment(stored, key, segmentAad(input.ref, index)) : undefined
            );
            // pipeline() (unlike pipe()) carries a corrupt segment's error into the decompressor, and so to extractTar.
            const decompressed = createDecompressor(manifest.compression.algorithm);
            const source = Readable.from(bytes);
            (input.bandwidthLimit
              ? pipeline(source, createThrottle(input.bandwidthLimit, signal), decompressed, { signal })
              : pipeline(source, decompressed, { signal })
            ).catch(() => undefined);
            const result = await extractTar(
              decompressed,
              {
                root: staging,
                allowExternalSymlinks: input.allowExternalSymlinks,
                restoreOwners,
                signal,
                onWarning: (m) => warnings.add(m),
                onProgress: (s) => progress.update({ files: s.files, bytes: s.bytes }),
                // Fail early on a conflict rather than after reading the whole backup.
                beforeEntry: input.overwrite
                  ? undefined
                  : async (rel, type) => {
                      if (await conflictsWithTarget(target, rel, type)) throw new RestoreConflictError([rel]);
                    },
              }
            );
            progress.update({ phase: 'moving' }, true);
            await mergeStaging(staging, target, input.overwrite);
            await applyDirMeta(target, result.dirs, restoreOwners);
            const s = result.stats;
            return { ref: input.ref, target, files: s.files, dirs: s.dirs, symlinks: s.symlinks, hardlinks: s.hardlinks, bytes: s.bytes, warnings: warnings.list() };
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
