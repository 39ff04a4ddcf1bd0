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
}

/** A committed backup as listed from storage. */
export interface BackupSummary {
  ref: BackupRef;
  kind: 'fs';
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
  phase: 'scanning' | 'reading' | 'writing' | 'verifying' | 'committing' | 'moving';
  files: number;
  bytes: number;
  /** Known total of `bytes`, when the activity knows it. */
  totalBytes?: number;
  segment: number;
  storedBytes: number;
}
