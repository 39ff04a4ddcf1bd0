/** The backup manifest: written last, so a backup without one is uncommitted and never listed. */
import { z } from 'zod';
import { BACKUP_KINDS, COMPRESSIONS } from '../workflows/shared/types';
import type { BackupRef, BackupSummary } from '../workflows/shared/types';

export const MANIFEST_FORMAT = 'permafrost-backup/1';

const statsSchema = z.object({
  files: z.number().int().nonnegative(),
  dirs: z.number().int().nonnegative(),
  symlinks: z.number().int().nonnegative(),
  hardlinks: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  streamBytes: z.number().int().nonnegative(),
  storedBytes: z.number().int().nonnegative(),
  segments: z.number().int().nonnegative(),
});

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  kind: z.enum(BACKUP_KINDS),
  ref: z.object({ host: z.string(), name: z.string(), timestamp: z.string() }),
  level: z.number().int().nonnegative(),
  /** Timestamp of the chain's level-0 backup (its own for a level 0). Manifests before levels existed lack it. */
  chain: z.string().optional(),
  /** Timestamp of the backup this one records changes against; null for a level 0. */
  parent: z.string().nullable().optional(),
  createdAt: z.string(),
  completedAt: z.string(),
  workflowId: z.string(),
  runId: z.string(),
  sources: z.array(z.object({ path: z.string(), prefix: z.string() })),
  exclude: z.array(z.string()),
  compression: z.object({ algorithm: z.enum(COMPRESSIONS), level: z.number().int().optional() }),
  encryption: z.union([z.null(), z.object({ algorithm: z.literal('aes-256-gcm'), keyId: z.string().regex(/^[0-9a-f]{16}$/) })]),
  segmentSize: z.number().int().positive(),
  segments: z.array(z.object({ index: z.number().int().nonnegative(), size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
  /** The stored file index (`<backup>/index`): what the next level compares against, and this level's deletions. */
  index: z.object({ size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
  stats: statsSchema,
  warnings: z.array(z.string()),
  /** Volume and image backups: the raw bytes stored (before compression), to check a restore against. */
  blob: z.object({ size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
  /** Volume and image backups: what the OpenStack resource looked like (name, size, type, metadata ...). */
  resource: z.object({ type: z.string(), id: z.string(), name: z.string() }).catchall(z.unknown()).optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;

/** Thrown when a manifest cannot be parsed or does not describe the backup it is stored under. */
export class InvalidManifestError extends Error {
  override readonly name = 'InvalidManifestError';
}

export function parseManifest(raw: Buffer, expected?: BackupRef): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new InvalidManifestError(`manifest is not JSON: ${(err as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw new InvalidManifestError(`manifest is invalid: ${z.prettifyError(parsed.error)}`);
  const m = parsed.data;
  if (expected && (m.ref.host !== expected.host || m.ref.name !== expected.name || m.ref.timestamp !== expected.timestamp)) {
    throw new InvalidManifestError('manifest describes another backup than the one it is stored under');
  }
  m.segments.forEach((s, i) => {
    if (s.index !== i) throw new InvalidManifestError(`manifest segment list has a gap at ${i}`);
  });
  return m;
}

export function summarize(m: Manifest): BackupSummary {
  return {
    ref: m.ref,
    kind: m.kind,
    level: m.level,
    chain: m.chain ?? m.ref.timestamp,
    parent: m.parent ?? null,
    createdAt: m.createdAt,
    completedAt: m.completedAt,
    sources: m.sources.map((s) => s.path),
    compression: m.compression.algorithm,
    encrypted: m.encryption !== null,
    stats: m.stats,
    warningCount: m.warnings.length,
    ...(m.resource ? { resource: { type: m.resource.type, id: m.resource.id, name: m.resource.name } } : {}),
  };
}
