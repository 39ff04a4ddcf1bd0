/** Names and timestamps of the storage layout. Pure functions, safe in the workflow sandbox. */
import type { BackupRef } from './types';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NODE_RE = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$/;
const STAMP_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

/** Why `name` is not a valid backup name, or undefined when it is. */
export function invalidBackupName(name: string): string | undefined {
  if (!NAME_RE.test(name) || name === '.' || name === '..') {
    return `backup name ${JSON.stringify(name)} must be 1-128 characters of A-Z a-z 0-9 . _ - and start with a letter or digit`;
  }
  return undefined;
}

/** Why `node` is not a valid node (host) name, or undefined when it is. No `_`: it separates host and name. */
export function invalidNodeName(node: string): string | undefined {
  if (!NODE_RE.test(node)) {
    return `node name ${JSON.stringify(node)} must be a host name: letters, digits, '.' and '-' (no '_')`;
  }
  return undefined;
}

/** UTC timestamp used in backup paths: `20261126T163400.123Z`. */
export function formatBackupTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '');
}

export function parseBackupTimestamp(stamp: string): Date | undefined {
  const m = STAMP_RE.exec(stamp);
  if (!m) return undefined;
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0] = m.slice(1).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  return formatBackupTimestamp(date) === stamp ? date : undefined;
}

/** Folder of one backup inside a storage: `<host>_<name>/<timestamp>`. */
export function backupPrefix(ref: BackupRef): string {
  return `${ref.host}_${ref.name}/${ref.timestamp}`;
}

export function backupId(ref: BackupRef): string {
  return backupPrefix(ref);
}

/** Parses `<host>_<name>/<timestamp>`; host names never contain `_`. */
export function parseBackupId(id: string): BackupRef | undefined {
  const m = /^([^_/]+)_([^/]+)\/([^/]+)$/.exec(id);
  if (!m) return undefined;
  const [, host, name, timestamp] = m as unknown as [string, string, string, string];
  if (invalidNodeName(host) || invalidBackupName(name) || !parseBackupTimestamp(timestamp)) return undefined;
  return { host, name, timestamp };
}

export const MANIFEST_FILE = 'manifest.json';

/** Key of segment `index` of a backup: zero-padded so that listings sort in stream order. */
export function segmentKey(ref: BackupRef, index: number): string {
  return `${backupPrefix(ref)}/segments/${String(index).padStart(8, '0')}`;
}

/** Key of a backup's file index (see activities/file-index.ts). */
export function indexKey(ref: BackupRef): string {
  return `${backupPrefix(ref)}/index`;
}

export function manifestKey(ref: BackupRef): string {
  return `${backupPrefix(ref)}/${MANIFEST_FILE}`;
}
