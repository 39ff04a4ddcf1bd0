/** Node activities that read a storage without changing it: verify a backup end to end, summarize a storage. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { cancellationSignal } from '@temporalio/activity';
import { backupId, indexKey, segmentKey } from '../workflows/shared/naming';
import { formatStorage } from '../workflows/shared/storage-url';
import type { StorageInfoGroup, StorageInfoInput, StorageInfoResult, VerifyBackupInput, VerifyBackupResult } from '../workflows/shared/types';
import { listManifests, readAll, restoreChainOf } from './catalog';
import { CorruptBackupError, EncryptionKeyMismatchError, NoBackupFoundError } from './failures';
import { createDecompressor } from './pipeline/compress';
import { decryptSegment, loadKey } from './pipeline/encrypt';
import { readSegments } from './pipeline/segment';
import { scanTar } from './pipeline/tar-scan';
import { ProgressReporter } from './progress';
import { loadIndex, segmentAad, sha256 } from './segment-store';
import type { OpenStorage } from './storage/registry';

export function createInspectActivities(deps: { openStorage: OpenStorage }) {
  return {
    /** Re-reads every segment (size, sha256), decrypts with the key if given, and parses the whole archive. */
    async verifyStoredBackup(input: VerifyBackupInput): Promise<VerifyBackupResult> {
      const signal = cancellationSignal();
      const driver = deps.openStorage(input.storage);
      try {
        // An incremental backup is only as good as its chain: every level it depends on is verified too.
        const chain = await restoreChainOf(driver, input.ref, signal).catch((err: unknown) => {
          if (err instanceof NoBackupFoundError) throw new NoBackupFoundError(`no committed backup ${backupId(input.ref)} in ${formatStorage(input.storage)}`);
          throw err;
        });
        const given = input.encryption ? await loadKey(input.encryption) : undefined;
        const total = chain.reduce((n, m) => n + m.stats.storedBytes, 0);
        const progress = new ProgressReporter({ phase: 'verifying', totalBytes: total });
        const sum = { segments: 0, storedBytes: 0, entries: 0, bytes: 0, decrypted: true, archiveChecked: true };
        try {
          for (const manifest of chain) {
            const key = manifest.encryption ? given : undefined;
            if (key && manifest.encryption && key.id !== manifest.encryption.keyId) {
              throw new EncryptionKeyMismatchError(`the given key (id ${key.id}) is not the key of ${backupId(manifest.ref)} (id ${manifest.encryption.keyId})`);
            }
            const readable = !manifest.encryption || key !== undefined;
            if (manifest.index) {
              if (readable) await loadIndex(driver, manifest, key, signal); // hash, authentication, format
              else if (sha256(await readAll(driver, indexKey(manifest.ref), signal)) !== manifest.index.sha256) {
                throw new CorruptBackupError(`the file index of ${backupId(manifest.ref)} does not match its manifest`);
              }
            }
            const done = sum.storedBytes;
            const bytes = readSegments(
              manifest.segments,
              (index) => driver.get(segmentKey(manifest.ref, index), { signal }),
              (index, size) => {
                sum.storedBytes += size;
                progress.update({ segment: index + 1, storedBytes: sum.storedBytes, bytes: sum.storedBytes });
              },
              key ? (index, data) => decryptSegment(data, key, segmentAad(manifest.ref, index)) : undefined
            );
            sum.segments += manifest.segments.length;
            if (manifest.encryption && !key) sum.decrypted = false;
            if (!readable) {
              for await (const _ of bytes) signal.throwIfAborted(); // hashes only: the content cannot be read
              sum.archiveChecked = false;
              continue;
            }
            const decompressed = createDecompressor(manifest.compression.algorithm);
            pipeline(Readable.from(bytes), decompressed, { signal }).catch(() => undefined);
            const scan = await scanTar(decompressed, signal);
            if (scan.bytes !== manifest.stats.bytes) {
              throw new CorruptBackupError(`archive of ${backupId(manifest.ref)} holds ${scan.bytes} bytes of file content, the manifest says ${manifest.stats.bytes}`);
            }
            if (scan.unsafe.length > 0) throw new CorruptBackupError(`archive has entries a restore would refuse: ${scan.unsafe.join('; ')}`);
            sum.entries += scan.entries;
            sum.bytes += scan.bytes;
            sum.storedBytes = done + manifest.stats.storedBytes;
          }
          const anyEncrypted = chain.some((m) => m.encryption);
          return { ref: input.ref, ...sum, decrypted: anyEncrypted && sum.decrypted, chain: chain.map((m) => m.ref) };
        } finally {
          progress.stop();
        }
      } finally {
        await driver.close();
      }
    },

    /** Backups per host and name, with sizes, in a storage. */
    async describeStorage(input: StorageInfoInput): Promise<StorageInfoResult> {
      const driver = deps.openStorage(input.storage);
      try {
        const groups = new Map<string, StorageInfoGroup>();
        for (const m of await listManifests(driver, {}, cancellationSignal())) {
          const id = `${m.ref.host}_${m.ref.name}`;
          const g = groups.get(id) ?? { host: m.ref.host, name: m.ref.name, backups: 0, bytes: 0, storedBytes: 0, segments: 0, oldest: m.ref.timestamp, newest: m.ref.timestamp };
          g.backups++;
          g.bytes += m.stats.bytes;
          g.storedBytes += m.stats.storedBytes;
          g.segments += m.stats.segments;
          if (m.ref.timestamp < g.oldest) g.oldest = m.ref.timestamp;
          if (m.ref.timestamp > g.newest) g.newest = m.ref.timestamp;
          groups.set(id, g);
        }
        const list = [...groups.values()].sort((a, b) => (`${a.host}_${a.name}` < `${b.host}_${b.name}` ? -1 : 1));
        const totals = list.reduce(
          (t, g) => ({ backups: t.backups + g.backups, bytes: t.bytes + g.bytes, storedBytes: t.storedBytes + g.storedBytes, segments: t.segments + g.segments }),
          { backups: 0, bytes: 0, storedBytes: 0, segments: 0 }
        );
        return { storage: formatStorage(input.storage), groups: list, totals };
      } finally {
        await driver.close();
      }
    },
  };
}
