/** Checks operator and service input before any workflow starts; every problem is reported at once. */
import { lstatSync, statSync } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';
import { invalidLevel } from '../workflows/shared/compression';
import { invalidLevelPolicy } from '../workflows/shared/levels';
import { invalidBackupName, invalidNodeName, parseBackupId, parseBackupTimestamp } from '../workflows/shared/naming';
import { parseUtcDate } from '../workflows/shared/selection';
import { formatDuration, invalidRetentionPolicy, parseDuration } from '../workflows/shared/retention';
import { formatStorage, invalidSwiftContainer, parseStorageUrl } from '../workflows/shared/storage-url';
import { COMPRESSIONS } from '../workflows/shared/types';
import type {
  LevelPolicy,
  BackupFsInput,
  BlobStoreOptions,
  CollectGarbageInput,
  Compression,
  EncryptionRef,
  ListBackupsInput,
  PruneBackupsInput,
  RestoreFsInput,
  RetentionPolicy,
  StorageTarget,
  VerifyBackupInput,
} from '../workflows/shared/types';

/** Input that cannot work; `problems` lists every reason. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `invalid input:\n  - ${problems.join('\n  - ')}`);
  }
}

export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
const MIN_SEGMENT = 64 * 1024;
const MAX_SEGMENT = 5 * 1024 * 1024 * 1024;

/** `64MiB`, `512k`, `1G` or a byte count. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) ? text : undefined;
  const m = /^(\d+)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * 1024 ** power;
}

/** Checks a key reference (never the key): one of an absolute key file path or an environment variable name. */
export function checkEncryption(ref: EncryptionRef | undefined, checkLocally: boolean, problems: string[]): EncryptionRef | undefined {
  if (ref === undefined || (ref.keyFile === undefined && ref.keyEnv === undefined)) return undefined;
  if (ref.keyFile !== undefined && ref.keyEnv !== undefined) problems.push('give either a key file or a key environment variable, not both');
  if (ref.keyFile !== undefined) {
    if (!isAbsolute(ref.keyFile)) problems.push(`key file ${JSON.stringify(ref.keyFile)} must be an absolute path`);
    else if (checkLocally) {
      try {
        if (!statSync(ref.keyFile).isFile()) problems.push(`key file ${ref.keyFile} is not a file`);
      } catch {
        problems.push(`key file ${ref.keyFile} does not exist`);
      }
    }
    return { keyFile: ref.keyFile };
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(ref.keyEnv ?? '')) problems.push(`key environment variable ${JSON.stringify(ref.keyEnv)} is not a valid name`);
  return { keyEnv: ref.keyEnv };
}

/** A bandwidth limit: bytes per second as a size (`50MiB`), at least 64 KiB/s. */
export function checkLimit(limit: string | number | undefined, problems: string[]): number | undefined {
  if (limit === undefined) return undefined;
  const bytes = parseSize(limit);
  if (bytes === undefined || bytes < 64 * 1024) {
    problems.push(`bandwidth limit must be a size per second of at least 64KiB, e.g. 50MiB (got ${JSON.stringify(limit)})`);
    return undefined;
  }
  return bytes;
}

export interface BackupFsRequest {
  paths: string[];
  name: string;
  node?: string;
  exclude?: string[];
  /** One target, or several that all receive the backup (fan-out). */
  storage?: string | StorageTarget | (string | StorageTarget)[];
  compression?: string;
  compressionLevel?: number;
  segmentSize?: string | number;
  encryption?: EncryptionRef;
  /** Upload limit per second, e.g. `50MiB`. */
  bandwidthLimit?: string | number;
  /** Incremental levels; every backup is full without it. */
  levels?: LevelPolicy;
}

export interface RestoreFsRequest {
  name: string;
  target: string;
  node?: string;
  host?: string;
  storage?: string | StorageTarget;
  /** `<host>_<name>/<timestamp>` or a bare timestamp. */
  backup?: string;
  fromDate?: string;
  overwrite?: boolean;
  allowExternalSymlinks?: boolean;
  encryption?: EncryptionRef;
  /** Download limit per second, e.g. `50MiB`. */
  bandwidthLimit?: string | number;
  /** Only print the plan: the backups the restore would apply. */
  dryRun?: boolean;
}

export interface ValidationContext {
  /** Node name of this machine: paths of a backup on it are checked here, before starting. */
  localNode: string;
  defaultStorage: string;
}

/** A target given as an object (library callers) is passed on unchanged, after this structural check. */
function invalidStorageTarget(target: StorageTarget): string | undefined {
  const t = target as unknown as Record<string, unknown>;
  const text = (v: unknown): v is string => typeof v === 'string' && v !== '' && !/[\s\0]/.test(v);
  const absPath = (v: unknown): boolean => typeof v === 'string' && v.startsWith('/') && !v.includes('\0') && !v.split('/').includes('..');
  switch (t.driver) {
    case 'local':
      return absPath(t.path) ? undefined : `local storage needs an absolute path without '..', not ${JSON.stringify(t.path)}`;
    case 'ssh': {
      const bad: string[] = [];
      if (!text(t.host) || /[/@]/.test(t.host)) bad.push('a host');
      if (typeof t.port !== 'number' || !Number.isInteger(t.port) || t.port < 1 || t.port > 65535) bad.push('a port from 1 to 65535');
      if (!text(t.user) || t.user.includes(':')) bad.push('a user');
      if (!absPath(t.path)) bad.push("an absolute path without '..'");
      if (t.identityFile !== undefined && !absPath(t.identityFile)) bad.push('an absolute identityFile (or none: ssh-agent)');
      if (t.knownHostsFile !== undefined && !absPath(t.knownHostsFile)) bad.push('an absolute knownHostsFile (or none: ~/.ssh/known_hosts)');
      return bad.length > 0 ? `ssh storage needs ${bad.join(', ')}` : undefined;
    }
    case 'swift':
      if (!text(t.container)) return 'swift storage needs a container';
      if (t.interface !== undefined && !['public', 'internal', 'admin'].includes(t.interface as string)) {
        return `swift interface must be public, internal or admin, not ${JSON.stringify(t.interface)}`;
      }
      return invalidSwiftContainer(t.container);
    default:
      return `unknown storage driver ${JSON.stringify(t.driver)} (known: local, swift, ssh)`;
  }
}

/** One storage given as a URL (or the configured default) or as a target object. */
export function storageOf(value: string | StorageTarget | undefined, ctx: ValidationContext, problems: string[]): StorageTarget | undefined {
  if (value !== undefined && typeof value !== 'string') {
    const bad = invalidStorageTarget(value);
    if (bad) problems.push(bad);
    return bad ? undefined : value;
  }
  const parsed = parseStorageUrl(value ?? ctx.defaultStorage);
  if (!parsed.ok) problems.push(parsed.reason);
  return parsed.ok ? parsed.target : undefined;
}

export function checkNode(node: string, problems: string[]): void {
  const bad = invalidNodeName(node);
  if (bad) problems.push(bad);
}

/** How a backup stream is stored: compression, segments, encryption, bandwidth (backup fs, volume and image backups). */
export interface BlobOptionsRequest {
  compression?: string;
  compressionLevel?: number;
  segmentSize?: string | number;
  encryption?: EncryptionRef;
  /** Upload limit per second, e.g. `50MiB`. */
  bandwidthLimit?: string | number;
}

/** The checked stream options; undefined when a problem was added. Optional fields are only present when set. */
export function checkBlobOptions(req: BlobOptionsRequest, checkLocally: boolean, problems: string[]): BlobStoreOptions | undefined {
  const before = problems.length;
  const compression = (req.compression ?? 'zstd') as Compression;
  if (!COMPRESSIONS.includes(compression)) problems.push(`compression must be one of ${COMPRESSIONS.join(', ')}, not ${JSON.stringify(req.compression)}`);
  const badLevel = COMPRESSIONS.includes(compression) ? invalidLevel(compression, req.compressionLevel) : undefined;
  if (badLevel) problems.push(badLevel);
  const segmentSize = parseSize(req.segmentSize ?? DEFAULT_SEGMENT_SIZE);
  if (segmentSize === undefined || segmentSize < MIN_SEGMENT || segmentSize > MAX_SEGMENT) {
    problems.push(`segment size must be between 64KiB and 5GiB, e.g. 64MiB (got ${JSON.stringify(req.segmentSize)})`);
  }
  const encryption = checkEncryption(req.encryption, checkLocally, problems);
  const bandwidthLimit = checkLimit(req.bandwidthLimit, problems);
  if (problems.length > before || segmentSize === undefined) return undefined;
  return {
    compression,
    compressionLevel: req.compressionLevel,
    segmentSize,
    ...(encryption ? { encryption } : {}),
    ...(bandwidthLimit ? { bandwidthLimit } : {}),
  };
}

/** One storage or several that all receive a backup (fan-out): the first is the main one, no duplicates. */
export function storagesOf(value: string | StorageTarget | (string | StorageTarget)[] | undefined, ctx: ValidationContext, problems: string[]): StorageTarget[] {
  const requested = Array.isArray(value) ? value : [value];
  const storages = (requested.length === 0 ? [undefined] : requested).map((s) => storageOf(s, ctx, problems));
  const labels = storages.flatMap((s) => (s ? [formatStorage(s)] : []));
  if (new Set(labels).size !== labels.length) problems.push('the same storage is given twice');
  return storages.filter((s): s is StorageTarget => s !== undefined);
}

export function validateBackupFs(req: BackupFsRequest, ctx: ValidationContext): BackupFsInput {
  const problems: string[] = [];
  const node = req.node ?? ctx.localNode;
  checkNode(node, problems);
  const badName = invalidBackupName(req.name ?? '');
  if (badName) problems.push(badName);
  const paths = (req.paths ?? []).map((p) => (isAbsolute(p) ? normalize(p).replace(/(.)\/+$/, '$1') : p));
  if (paths.length === 0) problems.push('at least one path to back up is required');
  for (const p of paths) {
    if (!isAbsolute(p)) problems.push(`path ${JSON.stringify(p)} must be absolute`);
    else if (node === ctx.localNode) {
      try {
        const st = lstatSync(p);
        if (!st.isDirectory() && !st.isFile()) problems.push(`path ${p} is neither a folder nor a regular file`);
      } catch (err) {
        problems.push(`path ${p} does not exist or cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
    }
  }
  if (new Set(paths).size !== paths.length) problems.push('the same path is given twice');
  const exclude = req.exclude ?? [];
  if (exclude.some((e) => e.trim() === '')) problems.push('exclude patterns may not be empty');
  const blob = checkBlobOptions(req, node === ctx.localNode, problems);
  const [storage, ...copies] = storagesOf(req.storage, ctx, problems);
  if (problems.length > 0 || !storage || !blob) throw new ValidationError(problems);
  const input: BackupFsInput = { node, name: req.name, paths, exclude, ...blob, storage };
  if (copies.length > 0) input.copies = copies;
  if (req.levels && Object.values(req.levels).some((v) => v !== undefined)) {
    const bad = invalidLevelPolicy(req.levels);
    if (bad) throw new ValidationError([bad]);
    input.levels = Object.fromEntries(Object.entries(req.levels).filter(([, v]) => v !== undefined));
  }
  return input;
}

export function validateRestoreFs(req: RestoreFsRequest, ctx: ValidationContext): RestoreFsInput {
  const problems: string[] = [];
  const node = req.node ?? ctx.localNode;
  checkNode(node, problems);
  let name = req.name;
  let host = req.host;
  let timestamp: string | undefined;
  if (req.backup !== undefined) {
    const full = parseBackupId(req.backup);
    if (full) {
      ({ host, name, timestamp } = full);
    } else if (parseBackupTimestamp(req.backup)) {
      timestamp = req.backup;
    } else {
      problems.push(`backup ${JSON.stringify(req.backup)} is neither <host>_<name>/<timestamp> nor a timestamp like 20261126T163400.123Z`);
    }
  }
  const badName = invalidBackupName(name ?? '');
  if (badName) problems.push(badName);
  if (host !== undefined) checkNode(host, problems);
  if (req.fromDate !== undefined) {
    if (timestamp !== undefined) problems.push('give either a backup or --from-date, not both');
    if (!parseUtcDate(req.fromDate)) problems.push(`--from-date ${JSON.stringify(req.fromDate)} is not an ISO 8601 date (UTC unless a zone is given)`);
  }
  if (!req.target || !isAbsolute(req.target)) problems.push(`target ${JSON.stringify(req.target ?? '')} must be an absolute path`);
  else if (node === ctx.localNode) {
    try {
      if (!lstatSync(req.target).isDirectory()) problems.push(`target ${req.target} exists and is not a folder`);
    } catch {
      /* missing: created by the restore */
    }
  }
  const storage = storageOf(req.storage, ctx, problems);
  const encryption = checkEncryption(req.encryption, node === ctx.localNode, problems);
  const bandwidthLimit = checkLimit(req.bandwidthLimit, problems);
  if (problems.length > 0 || !storage) throw new ValidationError(problems);
  return {
    ...(encryption ? { encryption } : {}),
    ...(bandwidthLimit ? { bandwidthLimit } : {}),
    ...(req.dryRun ? { dryRun: true } : {}),
    node,
    storage,
    name,
    host,
    timestamp,
    fromDate: req.fromDate,
    target: normalize(req.target).replace(/(.)\/+$/, '$1'),
    overwrite: req.overwrite ?? false,
    allowExternalSymlinks: req.allowExternalSymlinks ?? false,
  };
}

export function validateList(req: { node?: string; storage?: string | StorageTarget; host?: string; name?: string }, ctx: ValidationContext): ListBackupsInput {
  const problems: string[] = [];
  const node = req.node ?? ctx.localNode;
  checkNode(node, problems);
  if (req.host !== undefined) checkNode(req.host, problems);
  if (req.name !== undefined) {
    const bad = invalidBackupName(req.name);
    if (bad) problems.push(bad);
  }
  const storage = storageOf(req.storage, ctx, problems);
  if (problems.length > 0 || !storage) throw new ValidationError(problems);
  return { node, storage, host: req.host, name: req.name };
}

export interface VerifyRequest {
  /** `<host>_<name>/<timestamp>` */
  backup: string;
  node?: string;
  storage?: string | StorageTarget;
  encryption?: EncryptionRef;
}

export function validateVerify(req: VerifyRequest, ctx: ValidationContext): VerifyBackupInput {
  const problems: string[] = [];
  const node = req.node ?? ctx.localNode;
  checkNode(node, problems);
  const ref = parseBackupId(req.backup ?? '');
  if (!ref) problems.push(`backup ${JSON.stringify(req.backup)} must be <host>_<name>/<timestamp>, as \`permafrost list\` shows it`);
  const storage = storageOf(req.storage, ctx, problems);
  const encryption = checkEncryption(req.encryption, node === ctx.localNode, problems);
  if (problems.length > 0 || !storage || !ref) throw new ValidationError(problems);
  return { node, storage, ref, ...(encryption ? { encryption } : {}) };
}

export interface PruneRequest {
  name: string;
  /** Host the backups were taken on (default: the node). */
  host?: string;
  /** Node whose worker reads and deletes in the storage (default: this host). */
  node?: string;
  storage?: string | StorageTarget;
  keepLast?: number | string;
  keepDaily?: number | string;
  keepWeekly?: number | string;
  keepMonthly?: number | string;
  /** A duration such as `30d`, `36h`, `1d12h`, `2w`, or milliseconds. */
  olderThan?: string | number;
  /** Plan only: nothing is deleted. */
  dryRun?: boolean;
}

/** A whole count given as a number or as digits (CLI flags); undefined when absent, NaN when not a count. */
export function countOf(value: number | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  return /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
}

/** A duration given as text (`30d`) or milliseconds. */
export function durationOf(value: string | number | undefined, flag: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || !Number.isSafeInteger(ms) || ms <= 0) {
    problems.push(`${flag} must be a duration such as 30d, 36h, 1d12h or 2w (units s, m, h, d, w; got ${JSON.stringify(value)})`);
    return undefined;
  }
  return ms;
}

export function validatePrune(req: PruneRequest, ctx: ValidationContext): PruneBackupsInput {
  const problems: string[] = [];
  const node = req.node ?? ctx.localNode;
  checkNode(node, problems);
  if (req.host !== undefined) checkNode(req.host, problems);
  const badName = invalidBackupName(req.name ?? '');
  if (badName) problems.push(badName);
  const policy: RetentionPolicy = {};
  const counts = { keepLast: req.keepLast, keepDaily: req.keepDaily, keepWeekly: req.keepWeekly, keepMonthly: req.keepMonthly };
  // A flag that is not a number at all is reported with what was given; the policy check then sees a stand-in, so
  // that it does not add "needs at least one rule" to it.
  const standIn: RetentionPolicy = {};
  for (const [rule, value] of Object.entries(counts) as [keyof typeof counts, number | string | undefined][]) {
    const n = countOf(value);
    if (n === undefined) continue;
    if (Number.isNaN(n)) problems.push(`--${rule.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a whole number of at least 1 (got ${JSON.stringify(value)})`);
    else policy[rule] = n;
    standIn[rule] = Number.isNaN(n) ? 1 : n;
  }
  const olderThan = durationOf(req.olderThan, '--older-than', problems);
  if (olderThan !== undefined) policy.olderThanMs = olderThan;
  if (req.olderThan !== undefined) standIn.olderThanMs = olderThan ?? 1;
  problems.push(...invalidRetentionPolicy(standIn));
  const storage = storageOf(req.storage, ctx, problems);
  if (problems.length > 0 || !storage) throw new ValidationError(problems);
  return { node, storage, host: req.host ?? node, name: req.name, policy, dryRun: req.dryRun ?? false };
}

/** GC leaves folders younger than this alone: they may belong to a running backup. */
export const DEFAULT_GC_GRACE_MS = 24 * 3_600_000;
/** A shorter grace could remove the data of a backup that is still uploading. */
export const MIN_GC_GRACE_MS = 3_600_000;

export interface GcRequest {
  node?: string;
  storage?: string | StorageTarget;
  /** Only folders older than this (`24h`, `2d`, or milliseconds) are removed; default 24h, at least 1h. */
  grace?: string | number;
  dryRun?: boolean;
}

export function validateGc(req: GcRequest, ctx: ValidationContext): CollectGarbageInput {
  const problems: string[] = [];
  const node = req.node ?? ctx.localNode;
  checkNode(node, problems);
  const graceMs = req.grace === undefined ? DEFAULT_GC_GRACE_MS : durationOf(req.grace, '--grace', problems);
  if (graceMs !== undefined && graceMs < MIN_GC_GRACE_MS) {
    problems.push(`--grace must be at least ${formatDuration(MIN_GC_GRACE_MS)}: a younger folder may belong to a backup that is still running (got ${formatDuration(graceMs)})`);
  }
  const storage = storageOf(req.storage, ctx, problems);
  if (problems.length > 0 || !storage || graceMs === undefined) throw new ValidationError(problems);
  return { node, storage, graceMs, dryRun: req.dryRun ?? false };
}
