/**
 * The storage targets of one backup. Every segment goes to every live target in parallel. A target that fails is
 * dropped, recorded and reported; the others go on. When the last live target fails, its error fails the step (so a
 * single-target backup fails and is retried, resuming, as before). Nothing is ever partially committed in silence:
 * every target ends committed or reported with its error.
 */
import { log } from '@temporalio/activity';
import { formatStorage } from '../workflows/shared/storage-url';
import type { BackupRef, StorageTarget, TargetOutcome } from '../workflows/shared/types';
import { commitManifest, discardUncommitted, readManifest } from './catalog';
import type { Manifest } from './manifest';
import type { SegmentKey } from './pipeline/encrypt';
import type { Segment, SegmentRecord } from './pipeline/segment';
import { loadIndex, SegmentStore } from './segment-store';
import { InvalidIndexError } from './file-index';
import type { FileIndex } from './file-index';
import type { StorageDriver } from './storage/driver';
import type { OpenStorage } from './storage/registry';

interface Target {
  label: string;
  driver: StorageDriver;
  store: SegmentStore;
  /** Set once the target failed; it receives nothing more. */
  error?: unknown;
  /** The manifest committed on it (by this attempt or an earlier one). */
  manifest?: Manifest;
}

export class TargetSet {
  private constructor(
    private readonly ref: BackupRef,
    private readonly targets: Target[],
    private readonly signal: AbortSignal
  ) {}

  static async open(
    open: OpenStorage,
    storages: readonly StorageTarget[],
    ref: BackupRef,
    opts: { key?: SegmentKey; resume: boolean; signal: AbortSignal }
  ): Promise<TargetSet> {
    const targets: Target[] = [];
    try {
      for (const storage of storages) {
        const driver = open(storage);
        const target: Target = { label: formatStorage(storage), driver, store: undefined as unknown as SegmentStore };
        targets.push(target);
        target.manifest = await readManifest(driver, ref, opts.signal);
        target.store = await SegmentStore.open(driver, ref, { key: opts.key, resume: opts.resume, signal: opts.signal });
      }
    } catch (err) {
      await Promise.all(targets.map((t) => t.driver.close()));
      throw err;
    }
    return new TargetSet(ref, targets, opts.signal);
  }

  /** Targets still to be written: not failed, not committed by an earlier attempt. */
  private live(): Target[] {
    return this.targets.filter((t) => t.error === undefined && t.manifest === undefined);
  }

  /** True when an earlier attempt committed the backup everywhere. */
  get allCommitted(): boolean {
    return this.targets.every((t) => t.manifest !== undefined);
  }

  get firstManifest(): Manifest | undefined {
    return this.targets.find((t) => t.manifest)?.manifest;
  }

  /** The file index of `parent` (the base of an incremental level), read from the first target. */
  async parentIndex(parent: BackupRef, key: SegmentKey | undefined): Promise<FileIndex> {
    const t = this.targets[0]!;
    const manifest = await readManifest(t.driver, parent, this.signal);
    if (!manifest) throw new InvalidIndexError(`the parent backup ${parent.timestamp} is gone; take a level 0`);
    return loadIndex(t.driver, manifest, key, this.signal);
  }

  /** Segments found from earlier attempts, per target (for the resume log line). */
  get found(): number[] {
    return this.targets.map((t) => t.store.found);
  }

  private fail(target: Target, err: unknown): void {
    target.error = err;
    log.warn('storage target failed; the backup goes on without it', { storage: target.label, error: String(err) });
  }

  /** Stores a segment on every live target; returns the stored size (on the first target that took it). */
  async store(seg: Segment): Promise<number> {
    const live = this.live();
    const sizes = await Promise.all(
      live.map(async (t) => {
        try {
          return (await t.store.store(seg)).size;
        } catch (err) {
          if (this.signal.aborted) throw err;
          this.fail(t, err);
          return undefined;
        }
      })
    );
    if (this.live().length === 0) throw this.lastError();
    return sizes.find((s) => s !== undefined) ?? 0;
  }

  /** Writes each live target's index (file backups), then its manifest (built from that target's own records), last. */
  async commit(
    index: Buffer | undefined,
    build: (records: SegmentRecord[], storedBytes: number, index: { size: number; sha256: string } | undefined) => Manifest
  ): Promise<void> {
    await Promise.all(
      this.live().map(async (t) => {
        try {
          await t.store.pruneStale();
          const stored = index === undefined ? undefined : await t.store.storeIndex(index);
          const records = t.store.records;
          const manifest = build(records, records.reduce((n, r) => n + r.size, 0), stored);
          await commitManifest(t.driver, manifest, this.signal);
          t.manifest = manifest;
        } catch (err) {
          if (this.signal.aborted) throw err;
          this.fail(t, err);
        }
      })
    );
    if (!this.targets.some((t) => t.manifest)) throw this.lastError();
  }

  private lastError(): unknown {
    return [...this.targets].reverse().find((t) => t.error !== undefined)?.error ?? new Error('no storage target left');
  }

  /** Removes what failed targets hold (never a committed manifest); best effort, the workflow's undo retries. */
  async discardFailed(): Promise<void> {
    await Promise.all(this.targets.filter((t) => t.error !== undefined).map((t) => discardUncommitted(t.driver, this.ref).catch(() => undefined)));
  }

  /** Removes every uncommitted segment on every target (cancel, permanent failure). */
  async discardAll(): Promise<void> {
    await Promise.all(this.targets.map((t) => discardUncommitted(t.driver, this.ref).catch(() => undefined)));
  }

  outcomes(): TargetOutcome[] {
    return this.targets.map((t) =>
      t.manifest ? { storage: t.label, committed: true } : { storage: t.label, committed: false, error: t.error instanceof Error ? t.error.message : String(t.error) }
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.driver.close()));
  }
}
