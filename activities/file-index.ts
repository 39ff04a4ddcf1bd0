/**
 * The file index of a backup: what the tree looked like (type, size, mtime, ctime, link target per archive name) and
 * what was deleted since its parent. The next level compares against it, and a restore of a chain replays the
 * deletions. Stored as `<backup>/index`, gzip'd JSON, encrypted like the segments when the backup is.
 */
import type { Stats } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';

export type EntryType = 'f' | 'd' | 'l';

export interface IndexEntry {
  t: EntryType;
  size: number;
  mtime: number;
  ctime: number;
  link?: string;
}

export interface FileIndex {
  entries: Map<string, IndexEntry>;
  /** Names present in the parent and gone now (outermost only: a deleted folder takes its content with it). */
  deleted: string[];
}

/** Thrown when a stored index cannot be decoded. */
export class InvalidIndexError extends Error {
  override readonly name = 'InvalidIndexError';
}

export function indexEntry(st: Stats, link?: string): IndexEntry | undefined {
  const t: EntryType | undefined = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : undefined;
  if (!t) return undefined;
  const e: IndexEntry = { t, size: t === 'd' ? 0 : st.size, mtime: Math.trunc(st.mtimeMs), ctime: Math.trunc(st.ctimeMs) };
  if (link !== undefined) e.link = link;
  return e;
}

/** Whether `cur` must be stored again: new, another type, other content (size, mtime, ctime) or another link target. */
export function changed(prev: IndexEntry | undefined, cur: IndexEntry): boolean {
  if (!prev || prev.t !== cur.t) return true;
  if (cur.t === 'd') return false; // folders are always stored (cheap), content is judged per file
  return prev.size !== cur.size || prev.mtime !== cur.mtime || prev.ctime !== cur.ctime || prev.link !== cur.link;
}

/** Names in `prev` that are gone from `cur`, or changed type (so a restore removes them before the new entry). */
export function deletedSince(prev: ReadonlyMap<string, IndexEntry>, cur: ReadonlyMap<string, IndexEntry>): string[] {
  const gone = [...prev.keys()].filter((name) => {
    const now = cur.get(name);
    return !now || now.t !== prev.get(name)!.t;
  });
  gone.sort();
  const out: string[] = [];
  for (const name of gone) {
    const last = out.at(-1);
    if (last !== undefined && name.startsWith(`${last}/`) && prev.get(last)?.t === 'd') continue;
    out.push(name);
  }
  return out;
}

export function encodeIndex(index: FileIndex): Buffer {
  const entries = [...index.entries].map(([name, e]) => [name, e.t, e.size, e.mtime, e.ctime, ...(e.link !== undefined ? [e.link] : [])]);
  return gzipSync(Buffer.from(JSON.stringify({ v: 1, entries, deleted: index.deleted })));
}

export function decodeIndex(data: Buffer): FileIndex {
  let parsed: { v?: number; entries?: unknown; deleted?: unknown };
  try {
    parsed = JSON.parse(gunzipSync(data).toString('utf8')) as typeof parsed;
  } catch (err) {
    throw new InvalidIndexError(`backup index cannot be read: ${(err as Error).message}`);
  }
  if (parsed.v !== 1 || !Array.isArray(parsed.entries) || !Array.isArray(parsed.deleted)) throw new InvalidIndexError('backup index has an unknown format');
  const entries = new Map<string, IndexEntry>();
  for (const row of parsed.entries as unknown[][]) {
    const [name, t, size, mtime, ctime, link] = row as [string, EntryType, number, number, number, string | undefined];
    const e: IndexEntry = { t, size, mtime, ctime };
    if (link !== undefined) e.link = link;
    entries.set(name, e);
  }
  return { entries, deleted: parsed.deleted as string[] };
}
