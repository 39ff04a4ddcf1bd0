/** BackupSummary values for tests of pure logic (selection, levels). */
import type { BackupSummary } from '../../workflows/shared/types';

export function summary(timestamp: string, fields: Partial<BackupSummary> = {}): BackupSummary {
  return {
    ref: { host: 'h', name: 'n', timestamp },
    kind: 'fs',
    level: 0,
    chain: timestamp,
    parent: null,
    createdAt: '',
    completedAt: '',
    sources: ['/x'],
    compression: 'zstd',
    encrypted: false,
    stats: { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, streamBytes: 0, storedBytes: 0, segments: 1 },
    warningCount: 0,
    ...fields,
  };
}
