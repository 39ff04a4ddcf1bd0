/**
 * Stores the segments of one backup: encrypts them when a key is given, and on a retried attempt reuses every
 * segment an earlier attempt already stored, after checking that its content is the segment just produced again
 * (sha256 of the plaintext). Stored objects are atomic, so an existing object is a complete one; only the segment
 * in flight when a worker died is uploaded twice.
 */
import { createHash } from 'node:crypto';
import { backupId, backupPrefix, indexKey, segmentKey } from '../workflows/shared/naming';
import type { BackupRef, EncryptionRef } from '../workflows/shared/types';
import { EncryptionKeyMismatchError, InvalidInputError } from './failures';
import { readAll } from './catalog';
import { decryptSegment, DecryptionFailedError, encryptSegment, loadKey } from './pipeline/encrypt';
import type { SegmentKey } from './pipeline/encrypt';
import type { Segment, SegmentRecord } from './pipeline/segment';
import type { StorageDriver } from './storage/driver';
import { decodeIndex, InvalidIndexError } from './file-index';
import type { FileIndex } from './file-index';
import type { Manifest } from './manifest';

const SEGMENT_RE = /\/segments\/(\d{8})$/;

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Associated data of a backup's index. */
export function indexAad(ref: BackupRef): string {
  return `${backupId(ref)}#index`;
}

/** Associated data of a segment: its place in its backup. */
export function segmentAad(ref: BackupRef, index: number): string {
  return `${backupId(ref)}#${index}`;
}

export class SegmentStore {
  readonly records: SegmentRecord[] = [];
  uploaded = 0;
  reused = 0;

  private constructor(
    private readonly driver: StorageDriver,
    private readonly ref: BackupRef,
    private readonly key: SegmentKey | undefined,
    private readonly signal: AbortSignal | undefined,
    /** Segments an earlier attempt stored: index -> size. */
    private readonly existing: Map<number, number>
  ) {}

  /** With `resume`, indexes what earlier attempts stored and removes their half-written temporaries. */
  static async open(driver: StorageDriver, ref: BackupRef, opts: { key?: SegmentKey; resume: boolean; signal?: AbortSignal }): Promise<SegmentStore> {
    const existing = new Map<number, number>();
    if (opts.resume) {
      for await (const obj of driver.list(`${backupPrefix(ref)}/segments/`, { signal: opts.signal, includeTemporary: true })) {
        const m = SEGMENT_RE.exec(obj.key);
        if (obj.temporary || !m) await driver.remove(obj.key, { signal: opts.signal });
        else existing.set(Number(m[1]), obj.size);
      }
    }
    return new SegmentStore(driver, ref, opts.key, opts.signal, existing);
  }

  /** Segments found from an earlier attempt. */
  get found(): number {
    return this.existing.size;
  }

  async store(seg: Segment): Promise<SegmentRecord> {
    const record = (await this.reuse(seg)) ?? (await this.upload(seg));
    this.records[seg.index] = record;
    return record;
  }

  private async reuse(seg: Segment): Promise<SegmentRecord | undefined> {
    if (!this.existing.has(seg.index)) return undefined;
    const stored = await readAll(this.driver, segmentKey(this.ref, seg.index), this.signal);
    let plain: Buffer;
    try {
      plain = this.key ? decryptSegment(stored, this.key, segmentAad(this.ref, seg.index)) : stored;
    } catch (err) {
      if (err instanceof DecryptionFailedError) return undefined; // e.g. another key: overwrite it
      throw err;
    }
    if (sha256(plain) !== seg.sha256) return undefined; // the source changed since: store the new bytes
    this.reused++;
    return { index: seg.index, size: stored.length, sha256: this.key ? sha256(stored) : seg.sha256 };
  }

  private async upload(seg: Segment): Promise<SegmentRecord> {
    const stored = this.key ? encryptSegment(seg.data, this.key, segmentAad(this.ref, seg.index)) : seg.data;
    await this.driver.put(segmentKey(this.ref, seg.index), stored, { signal: this.signal });
    this.uploaded++;
    return { index: seg.index, size: stored.length, sha256: this.key ? sha256(stored) : seg.sha256 };
  }

  /** Stores the backup's file index (encrypted like the segments); returns its size and hash for the manifest. */
  async storeIndex(plain: Buffer): Promise<{ size: number; sha256: string }> {
    const stored = this.key ? encryptSegment(plain, this.key, indexAad(this.ref)) : plain;
    await this.driver.put(indexKey(this.ref), stored, { signal: this.signal });
    return { size: stored.length, sha256: sha256(stored) };
  }

  /** Removes segments an earlier, longer attempt left past the end of this stream. */
  async pruneStale(): Promise<void> {
    for (const index of this.existing.keys()) {
      if (index >= this.records.length) await this.driver.remove(segmentKey(this.ref, index), { signal: this.signal });
    }
  }
}

/** Reads, verifies (hash from the manifest) and decrypts a backup's file index. */
export async function loadIndex(driver: StorageDriver, manifest: Manifest, key: SegmentKey | undefined, signal?: AbortSignal): Promise<FileIndex> {
  if (!manifest.index) throw new InvalidIndexError(`backup ${backupId(manifest.ref)} has no file index`);
  const stored = await readAll(driver, indexKey(manifest.ref), signal);
  if (stored.length !== manifest.index.size || sha256(stored) !== manifest.index.sha256) {
    throw new InvalidIndexError(`the file index of ${backupId(manifest.ref)} does not match its manifest`);
  }
  return decodeIndex(key ? decryptSegment(stored, key, indexAad(manifest.ref)) : stored);
}

/** The key for a backup's segments, checked against the key id it was written with, before anything is read. */
export async function keyFor(manifest: Manifest, ref: EncryptionRef | undefined): Promise<SegmentKey | undefined> {
  if (!manifest.encryption) return undefined;
  if (!ref) throw new InvalidInputError(`backup ${backupId(manifest.ref)} is encrypted: give its key (--key-file or --key-env)`);
  const key = await loadKey(ref);
  if (key.id !== manifest.encryption.keyId) {
    throw new EncryptionKeyMismatchError(`the given key (id ${key.id}) is not the key backup ${backupId(manifest.ref)} was encrypted with (id ${manifest.encryption.keyId})`);
  }
  return key;
}
