/** The contract between client, workflows and activities: plain data only (it crosses the Temporal boundary). */

/** Compression algorithms of the stream pipeline. */
export const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** Where backups are stored. Secrets are never part of it: only references (paths, profile names). */
export type StorageTarget = LocalStorageTarget | SwiftStorageTarget | SshStorageTarget;

/** A directory on the node that runs the storage activities. */
export interface LocalStorageTarget {
  driver: 'local';
  /** Absolute path of the storage root (Freezer's --container for local storage). */
  path: string;
}

/** A Swift container. Credentials are resolved on the node: the clouds.yaml entry `cloud`, else the worker's OS_* env. */
export interface SwiftStorageTarget {
  driver: 'swift';
  container: string;
  /** Name of a clouds.yaml cloud (keystone password, application credential, or v1password = tempauth). */
  cloud?: string;
  region?: string;
  /** Endpoint interface from the catalog: public (default), internal or admin. */
  interface?: 'public' | 'internal' | 'admin';
}

/** A folder on an SFTP server. The key and known_hosts are files on the node, never their contents. */
export interface SshStorageTarget {
  driver: 'ssh';
  host: string;
  port: number;
  user: string;
  /** Absolute storage root on the server; every path stays below it. */
  path: string;
  /** Private key file on the node; without it the worker's ssh-agent (SSH_AUTH_SOCK) is used. */
  identityFile?: string;
  /** known_hosts file on the node (default ~/.ssh/known_hosts); the host key must match, there is no accept-any. */
  knownHostsFile?: string;
}

/** Identifies one backup inside a storage: `<host>_<name>/<timestamp>`. */
export interface BackupRef {
  host: string;
  name: string;
  /** UTC, `YYYYMMDDTHHMMSS.mmmZ`; sorts lexicographically in time order. */
  timestamp: string;
}

/** Where the node finds the encryption key: a file (mode 600) or an environment variable of the worker. Never the key. */
export interface EncryptionRef {
  keyFile?: string;
  keyEnv?: string;
}

/** Incremental levels, with Freezer's option names and their intended meaning (see workflows/shared/levels.ts). */
export interface LevelPolicy {
  maxLevel?: number;
  alwaysLevel?: number;
  restartAlwaysLevelDays?: number;
}

export interface FsBackupOptions {
  /** Absolute source paths on the node. */
  paths: string[];
  /** Glob patterns; a pattern without `/` matches a basename anywhere (GNU tar style). */
  exclude: string[];
  compression: Compression;
  /** Algorithm-specific level; undefined = the algorithm's default. */
  compressionLevel?: number;
  /** Bytes per stored segment. */
  segmentSize: number;
  /** AES-256-GCM per segment with this key; unencrypted when absent. */
  encryption?: EncryptionRef;
  /** Upload limit in bytes per second (token bucket on the node); unlimited when absent. */
  bandwidthLimit?: number;
  /** Incremental levels; every backup is a full level 0 when absent. */
  levels?: LevelPolicy;
}

export interface BackupFsInput extends FsBackupOptions {
  /** Node whose worker reads the paths (task queue `permafrost-node-<node>`). */
  node: string;
  /** Backup name; the backup is stored as `<node>_<name>`. */
  name: string;
  storage: StorageTarget;
  /** More targets that receive the same backup in parallel (fan-out); each is committed or reported. */
  copies?: StorageTarget[];
}

/** How one storage target of a backup ended. */
export interface TargetOutcome {
  storage: string;
  committed: boolean;
  error?: string;
}

export interface BackupStats {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Bytes of file content read. */
  bytes: number;
  /** Bytes of the uncompressed archive stream. */
  streamBytes: number;
  /** Bytes written to storage (compressed, segmented). */
  storedBytes: number;
  segments: number;
}

export interface BackupFsResult {
  ref: BackupRef;
  stats: BackupStats;
  /** Every target, committed or with its error. */
  targets: TargetOutcome[];
  /** Files that could not be read, changed while read, or were skipped; the backup is still valid. */
  warnings: string[];
}

export interface RestoreFsInput {
  /** Node whose worker writes the target directory. */
  node: string;
  storage: StorageTarget;
  name: string;
  /** Host the backup was taken on; defaults to `node`. */
  host?: string;
  /** Exact backup timestamp; otherwise the newest one at or before `fromDate` (ISO 8601), or the newest. */
  timestamp?: string;
  fromDate?: string;
  /** Absolute target directory; created if missing. */
  target: string;
  /** Replace existing files in the target. Without it, any existing file fails the restore before anything is written. */
  overwrite: boolean;
  /** Restore symlinks whose target lies outside the target directory (they are refused otherwise). */
  allowExternalSymlinks: boolean;
  /** Key of an encrypted backup. */
  encryption?: EncryptionRef;
  /** Download limit in bytes per second; unlimited when absent. */
  bandwidthLimit?: number;
  /** Only choose the backups to apply (the plan) and return it; nothing is read or written. */
  dryRun?: boolean;
}

export interface RestoreFsResult {
  ref: BackupRef;
  target: string;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  bytes: number;
  warnings: string[];
  /** The backups applied, level 0 first (absent from results of workers older than levels). */
  chain?: BackupRef[];
  /** True when this was only a plan (--dry-run). */
  dryRun?: boolean;
}

/** What a backup holds: a filesystem tree, a Cinder volume's bytes, a Glance image's bytes, a server (its disks are blobs of their own). */
export const BACKUP_KINDS = ['fs', 'volume', 'image', 'server'] as const;
export type BackupKindName = (typeof BACKUP_KINDS)[number];

/** A committed backup as listed from storage. */
export interface BackupSummary {
  ref: BackupRef;
  kind: BackupKindName;
  /** Volume and image backups: the OpenStack resource backed up. */
  resource?: { type: string; id: string; name: string };
  /** 0 = full; N = changes since the backup `parent`, of the chain that started with the level 0 at `chain`. */
  level: number;
  chain: string;
  parent: string | null;
  createdAt: string;
  completedAt: string;
  sources: string[];
  compression: Compression;
  encrypted: boolean;
  stats: BackupStats;
  warningCount: number;
}

export interface ListBackupsInput {
  node: string;
  storage: StorageTarget;
  host?: string;
  name?: string;
}

export interface VerifyBackupInput {
  node: string;
  storage: StorageTarget;
  ref: BackupRef;
  /** Without a key, an encrypted backup's segments are checked by hash only. */
  encryption?: EncryptionRef;
}

export interface VerifyBackupResult {
  ref: BackupRef;
  segments: number;
  storedBytes: number;
  /** Every segment was decrypted and authenticated (encrypted backups with a key). */
  decrypted: boolean;
  /** The whole archive was decompressed and parsed, and its content matched the manifest. */
  archiveChecked: boolean;
  entries: number;
  bytes: number;
  /** Every backup verified: the chain of an incremental backup, level 0 first. */
  chain?: BackupRef[];
}

export interface StorageInfoInput {
  node: string;
  storage: StorageTarget;
}

export interface StorageInfoGroup {
  host: string;
  name: string;
  backups: number;
  bytes: number;
  storedBytes: number;
  segments: number;
  oldest: string;
  newest: string;
}

export interface StorageInfoResult {
  storage: string;
  groups: StorageInfoGroup[];
  totals: { backups: number; bytes: number; storedBytes: number; segments: number };
}

/** What the node activities heartbeat, and what the CLI shows as progress. Never holds secrets. */
export interface TransferProgress {
  phase: 'scanning' | 'reading' | 'writing' | 'verifying' | 'committing' | 'moving' | 'waiting';
  /** While waiting for an OpenStack resource: its last status seen. */
  status?: string;
  files: number;
  bytes: number;
  /** Known total of `bytes`, when the activity knows it. */
  totalBytes?: number;
  segment: number;
  storedBytes: number;
}

/**
 * Retention: which committed backups of one `<host>_<name>` to keep. Keep rules count backups (newest first); the
 * age rule deletes what is older than `olderThanMs` before "now". A backup that any rule keeps is kept, with every
 * backup it depends on (its parent chain). At least one keep rule or `olderThanMs` is required.
 */
export interface RetentionPolicy {
  /** The N newest backups. */
  keepLast?: number;
  /** The newest backup of each of the last N UTC days that have backups. */
  keepDaily?: number;
  /** The newest backup of each of the last N ISO weeks (UTC) that have backups. */
  keepWeekly?: number;
  /** The newest backup of each of the last N UTC months that have backups. */
  keepMonthly?: number;
  /** Backups taken more than this many ms before "now" are deleted unless kept by a keep rule or a dependant; newer ones are kept. */
  olderThanMs?: number;
}

/** One backup in a retention plan, with what a reader needs to check the decision. */
export interface RetentionEntry {
  timestamp: string;
  level: number;
  chain: string;
  parent: string | null;
  storedBytes: number;
}

export interface RetentionPlan {
  host: string;
  name: string;
  /** The instant the age rule and the calendar buckets were computed against (ISO 8601, UTC). */
  now: string;
  /** With older-than: backups taken before this instant (ISO 8601) are old. */
  cutoff?: string;
  policy: RetentionPolicy;
  /** Oldest first; every reason that keeps it (rules, `needed by <timestamp>`). */
  keep: (RetentionEntry & { reasons: string[] })[];
  /** In deletion order: a backup comes after every deleted backup that depends on it (newest first). */
  delete: (RetentionEntry & { reason: string })[];
  /** Kept backups whose ancestors are missing from the storage (they cannot be restored), and similar findings. */
  warnings: string[];
}

export interface PruneBackupsInput {
  /** Node whose worker reads and deletes in the storage. */
  node: string;
  storage: StorageTarget;
  /** Host the backups were taken on; defaults to `node`. */
  host?: string;
  name: string;
  policy: RetentionPolicy;
  /** Plan only: nothing is deleted. */
  dryRun: boolean;
}

export interface PruneBackupsResult {
  storage: string;
  dryRun: boolean;
  plan: RetentionPlan;
  /** Backups removed (manifest first, then every other object), in the order they were removed. */
  deleted: { timestamp: string; objects: number }[];
  /** Planned deletions refused at delete time (a committed backup depends on them now). */
  refused: { timestamp: string; reason: string }[];
}

export interface DeleteBackupInput {
  storage: StorageTarget;
  ref: BackupRef;
}

export interface DeleteBackupResult {
  ref: BackupRef;
  /** The manifest was still there (false: a retry, or a backup deleted by someone else). */
  wasCommitted: boolean;
  objects: number;
}

/** A `<host>_<name>/<timestamp>/` folder without a manifest: left by a crash, a cancel, or a half-done deletion. */
export interface UncommittedFolder {
  ref: BackupRef;
  objects: number;
  /** In-flight writes (temp names) among `objects`. */
  temporary: number;
  bytes: number;
}

export interface FindUncommittedInput {
  storage: StorageTarget;
  /** Folders whose timestamp is older than `now - graceMs` are garbage; newer ones may belong to a running backup. */
  graceMs: number;
  /** ISO 8601 instant. */
  now: string;
}

export interface RemoveUncommittedInput extends FindUncommittedInput {
  /** Only these folders (as found), each checked again: still uncommitted and older than the cutoff. */
  refs: BackupRef[];
}

export interface RemoveUncommittedResult {
  removed: UncommittedFolder[];
  skipped: { ref: BackupRef; reason: string }[];
}

export interface CollectGarbageInput {
  node: string;
  storage: StorageTarget;
  graceMs: number;
  dryRun: boolean;
}

export interface CollectGarbageResult {
  storage: string;
  dryRun: boolean;
  graceMs: number;
  /** Folders whose timestamp is before this instant (ISO 8601) were eligible. */
  cutoff: string;
  found: UncommittedFolder[];
  removed: UncommittedFolder[];
  skipped: { ref: BackupRef; reason: string }[];
}

/** How raw bytes (volume and image data) are stored: the same pipeline options as file backups. */
export interface BlobStoreOptions {
  compression: Compression;
  compressionLevel?: number;
  segmentSize: number;
  encryption?: EncryptionRef;
  bandwidthLimit?: number;
}
