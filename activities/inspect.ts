/** Node activities that read a storage without changing it: verify a backup end to end, summarize a storage. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { cancellationSignal } from '@temporalio/activity';
import { backupId, segmentKey } from '../workflows/shared/naming';
import { formatStorage } from '../workflows/shared/storage-url';
import type { StorageInfoGroup, StorageInfoInput, StorageInfoResult, VerifyBackupInput, VerifyBackupResult } from '../workflows/shared/types';
import { listManifests, readManifest } from './catalog';
import { CorruptBackupError, EncryptionKeyMismatchError, NoBackupFoundError } from './failures';
import { createDecompressor } from './pipeline/compress';
import { decryptSegment, loadKey } from './pipeline/encrypt';
import { readSegments } from './pipeline/segment';
import { scanTar } from './pipeline/tar-scan';
import { ProgressReporter } from './progress';
import { segmentAad } from './segment-store';
import type { OpenStorage } from './storage/registry';

export function createInspectActivities(deps: { openStorage: OpenStorage }) {
  return {
    /** Re-reads every segment (size, sha256), decrypts with the key if given, and parses the whole archive. */
    async verifyStoredBackup(input: VerifyBackupInput): Promise<VerifyBackupResult> {
      const signal = cancellationSignal();
      const driver = deps.openStorage(input.storage);
      try {
        const manifest = await readManifest(driver, input.ref, signal);
        if (!manifest) throw new NoBackupFoundError(`no committed backup ${backupId(input.ref)} in ${formatStorage(input.storage)}`);
        const key = manifest.encryption && input.encryption ? await loadKey(input.encryption) : undefined;
        if (key && manifest.encryption && key.id !== manifest.encryption.keyId) {
          throw new EncryptionKeyMismatchError(`the given key (id ${key.id}) is not the key of ${backupId(input.ref)} (id ${manifest.encryption.keyId})`);
        }
        const progress = new ProgressReporter({ phase: 'verifying', totalBytes: manifest.stats.storedBytes });
        try {
          let stored = 0;
          const bytes = readSegments(
            manifest.segments,
            (index) => driver.get(segmentKey(input.ref, index), { signal }),
            (index, size) => {
              stored += size;
              progress.update({ segment: index + 1, storedBytes: stored, bytes: stored });
            },
            key ? (index, data) => decryptSegment(data, key, segmentAad(input.ref, index)) : undefined
          );
          const base = { ref: input.ref, segments: manifest.segments.length, storedBytes: manifest.stats.storedBytes, decrypted: key !== undefined };
          if (manifest.encryption && !key) {
            for await (const _ of bytes) signal.throwIfAborted(); // hashes only: the content cannot be read
            return { ...base, archiveChecked: false, entries: 0, bytes: 0 };
          }
          const decompressed = createDecompressor(manifest.compression.algorithm);
          pipeline(Readable.from(bytes), decompressed, { signal }).catch(() => undefined);
          const scan = await scanTar(decompressed, signal);
          if (scan.bytes !== manifest.stats.bytes) {
            throw new CorruptBackupError(`archive holds ${scan.bytes} bytes of file content, the manifest says ${manifest.stats.bytes}`);
          }
          if (scan.unsafe.length > 0) throw new CorruptBackupError(`archive has entries a restore would refuse: ${scan.unsafe.join('; ')}`);
          return { ...base, archiveChecked: true, entries: scan.entries, bytes: scan.bytes };
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
