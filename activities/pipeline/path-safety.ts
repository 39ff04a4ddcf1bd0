/** Tar-slip defences for restore. Pure functions over POSIX paths relative to the restore root. */
import { posix } from 'node:path';

/** Thrown for an archive entry that would write, link or point outside the restore root. */
export class UnsafeEntryError extends Error {
  override readonly name = 'UnsafeEntryError';
  constructor(
    readonly entry: string,
    readonly reason: string
  ) {
    super(`refused archive entry ${JSON.stringify(entry)}: ${reason}`);
  }
}

/**
 * The entry's path relative to the root (no `./`, no trailing `/`), or an UnsafeEntryError for absolute paths,
 * `..` components, NUL bytes and empty names.
 */
export function safeEntryPath(name: string): string {
  if (name.includes('\0')) throw new UnsafeEntryError(name, 'contains a NUL byte');
  if (name.startsWith('/')) throw new UnsafeEntryError(name, 'absolute path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafeEntryError(name, "contains a '..' component");
  if (parts.length === 0) throw new UnsafeEntryError(name, 'empty path');
  return parts.join('/');
}

/** Parent folders of a relative path, outermost first: `a/b/c` gives `a`, `a/b`. */
export function parentsOf(rel: string): string[] {
  const parts = rel.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

/**
 * Where a symlink at `rel` with target `linkname` points, relative to the root, following the archive's other
 * symlinks (`links`: relative path -> linkname). Returns undefined when it leaves the root or loops.
 */
export function resolveLinkInside(rel: string, linkname: string, links: ReadonlyMap<string, string>, depth = 0): string | undefined {
  if (depth > 40 || linkname.startsWith('/') || linkname.includes('\0')) return undefined;
  const joined = posix.normalize(posix.join(posix.dirname(rel), linkname));
  if (joined === '..' || joined.startsWith('../')) return undefined;
  const parts = joined === '.' ? [] : joined.split('/');
  // Walk the components; a component that is itself an archived symlink is resolved in turn.
  let current = '';
  for (let i = 0; i < parts.length; i++) {
    const next = current === '' ? parts[i]! : `${current}/${parts[i]!}`;
    const inner = links.get(next);
    if (inner !== undefined) {
      const resolved = resolveLinkInside(next, inner, links, depth + 1);
      if (resolved === undefined) return undefined;
      const rest = parts.slice(i + 1).join('/');
      return rest === '' ? resolved : resolveLinkInside(resolved === '' ? 'x' : `${resolved}/x`, rest, links, depth + 1);
    }
    current = next;
  }
  return current;
}
