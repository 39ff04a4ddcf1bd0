/**
 * The stream pipeline for raw bytes (a Glance image's data, so a volume's or a server's disk): source -> hash ->
 * compress -> throttle -> segments (encrypted, resumable, fanned out) -> manifest last; and back: segments ->
 * decrypt -> decompress -> hash check. Same segments, same manifest format and same resume as file backups.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { activityInfo, ApplicationFailure, log } from '@temporalio/activity';
import { backupId, segmentKey } from '../workflows/shared/naming';
import { DEFAULT_LEVELS } from '../workflows/shared/compression';
import type { BackupKindName, BackupRef, BlobStoreOptions, StorageTarget, TargetOutcome } from '../workflows/shared/types';
import { CorruptBackupError, toFailure } from './failures';
import { TargetSet } from './fan-out';
import type { Manifest } from './manifest';
import { MANIFEST_FORMAT } from './manifest';
import { createCompressor, createDecompressor } from './pipeline/compress';
import { decryptSegment, loadKey } from './pipeline/encrypt';
import type { SegmentKey } from './pipeline/encrypt';
import { readSegments, Segmenter } from './pipeline/segment';
import { createThrottle } from './pipeline/throttle';
import { ProgressReporter } from './progress';
import { segmentAad } from './segment-store';
export { keyFor } from './segment-store';
import type { StorageDriver } from './storage/driver';
import type { OpenStorage } from './storage/registry';

export interface BlobStats {
  /** Raw bytes read from the source. */
  bytes: number;
  storedBytes: number;
  segments: number;
}

export interface StoreBlobResult {
  ref: BackupRef;
  stats: BlobStats;
  sha256: string;
  targets: TargetOutcome[];
}

/**
 * Streams `open()`'s bytes into every target and commits the manifest. A retried attempt reuses the segments an
 * earlier one stored (matched by content hash). Cancelled or permanently failed: nothing uncommitted stays.
 */
export async function storeBlob(
  openStorage: OpenStorage,
  input: BlobStoreOptions & {
    storage: StorageTarget;
    copies?: StorageTarget[];
    ref: BackupRef;
    kind: BackupKindName;
    resource: Manifest['resource'];
    totalBytes?: number;
    signal: AbortSignal;
  },
  open: () => Promise<Readable>
): Promise<StoreBlobResult> {
  const { signal, ref } = input;
  const info = activityInfo();
  const startedAt = new Date();
  const key = input.encryption ? await loadKey(input.encryption) : undefined;
  const targets = await TargetSet.open(openStorage, [input.storage, ...(input.copies ?? [])], ref, { key, resume: info.attempt > 1, signal });
  try {
    const done = targets.firstManifest;
    if (targets.allCommitted && done?.blob) {
      return { ref, stats: { bytes: done.blob.size, storedBytes: done.stats.storedBytes, segments: done.stats.segments }, sha256: done.blob.sha256, targets: targets.outcomes() };
    }
    const progress = new ProgressReporter({ phase: 'reading', ...(input.totalBytes !== undefined ? { totalBytes: input.totalBytes } : {}) });
    let bytes = 0;
    let storedBytes = 0;
    const hash = createHash('sha256');
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        hash.update(chunk);
        progress.update({ bytes });
        cb(null, chunk);
      },
    });
    const segmenter = new Segmenter(input.segmentSize, async (seg) => {
      storedBytes += await targets.store(seg);
      progress.update({ segment: seg.index + 1, storedBytes }, true);
    });
    try {
      const source = await open();
      const compressor = createCompressor(input.compression, input.compressionLevel);
      if (input.bandwidthLimit) await pipeline(source, count, compressor, createThrottle(input.bandwidthLimit, signal), segmenter, { signal });
      else await pipeline(source, count, compressor, segmenter, { signal });
      if (input.totalBytes !== undefined && bytes !== input.totalBytes) {
        throw ApplicationFailure.retryable(`the source stream of ${backupId(ref)} ended after ${bytes} of ${input.totalBytes} bytes`, 'ShortReadError');
      }
      const sha256 = hash.digest('hex');
      progress.update({ phase: 'committing', bytes }, true);
      await targets.commit(undefined, (records, stored) => ({
        format: MANIFEST_FORMAT,
        kind: input.kind,
        ref,
        level: 0,
        chain: ref.timestamp,
        parent: null,
        createdAt: startedAt.toISOString(),
        completedAt: new Date().toISOString(),
        workflowId: info.workflowExecution?.workflowId ?? '',
        runId: info.workflowExecution?.runId ?? '',
        sources: [],
        exclude: [],
        compression: { algorithm: input.compression, level: input.compressionLevel ?? DEFAULT_LEVELS[input.compression] },
        encryption: key ? { algorithm: 'aes-256-gcm', keyId: key.id } : null,
        segmentSize: input.segmentSize,
        segments: records,
        stats: { files: 1, dirs: 0, symlinks: 0, hardlinks: 0, bytes, streamBytes: bytes, storedBytes: stored, segments: records.length },
        warnings: [],
        blob: { size: bytes, sha256 },
        resource: input.resource,
      }));
      await targets.discardFailed();
      const first = targets.firstManifest!;
      return { ref, stats: { bytes, storedBytes: first.stats.storedBytes, segments: first.stats.segments }, sha256, targets: targets.outcomes() };
    } catch (err) {
      const failure = toFailure(err);
      if (!signal.aborted && failure instanceof ApplicationFailure && !failure.nonRetryable) {
        log.warn('stream attempt failed; stored segments are kept for the next attempt', { error: String(err) });
      } else {
        await targets.discardAll();
        log.warn('stream failed; uncommitted data removed', { error: String(err) });
      }
      throw failure;
    } finally {
      progress.stop();
    }
  } finally {
    await targets.close();
  }
}

/**
 * The raw bytes of a blob backup as a stream: segments are read, checked, decrypted and decompressed as they are
 * consumed; the stream errors (CorruptBackupError) when the bytes do not match the manifest's size and hash.
 */
export function openBlob(
  driver: StorageDriver,
  manifest: Manifest,
  key: SegmentKey | undefined,
  opts: { signal: AbortSignal; bandwidthLimit?: number; onBytes?: (bytes: number) => void }
): Readable {
  const blob = manifest.blob;
  if (!blob) throw new CorruptBackupError(`backup ${backupId(manifest.ref)} is not a volume or image backup`);
  const source = Readable.from(
    readSegments(
      manifest.segments,
      (index) => driver.get(segmentKey(manifest.ref, index), { signal: opts.signal }),
      undefined,
      key ? (index, stored) => decryptSegment(stored, key, segmentAad(manifest.ref, index)) : undefined
    )
  );
  const hash = createHash('sha256');
  let bytes = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      hash.update(chunk);
      opts.onBytes?.(bytes);
      cb(null, chunk);
    },
    flush(cb) {
      if (bytes !== blob.size || hash.digest('hex') !== blob.sha256) {
        cb(new CorruptBackupError(`backup ${backupId(manifest.ref)} does not match its manifest (${bytes} of ${blob.size} bytes, or a different hash)`));
      } else cb();
    },
  });
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const stages: NodeJS.ReadWriteStream[] = [];
  if (opts.bandwidthLimit) stages.push(createThrottle(opts.bandwidthLimit, opts.signal));
  stages.push(createDecompressor(manifest.compression.algorithm), check);
  const streams: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [source, ...stages, out];
  pipeline(streams, { signal: opts.signal }).catch((err: unknown) => out.destroy(err as Error));
  return out;
}
