/** Exclude patterns, GNU tar style: a pattern without `/` matches a basename at any depth; others match the path. */
import picomatch from 'picomatch';

export type ExcludeMatcher = (relativePath: string) => boolean;

export function compileExcludes(patterns: readonly string[]): ExcludeMatcher {
  const byName = patterns.filter((p) => !p.includes('/'));
  const byPath = patterns.filter((p) => p.includes('/')).map((p) => p.replace(/^\/+/, ''));
  const nameMatch = byName.length > 0 ? picomatch(byName, { dot: true }) : undefined;
  const pathMatch = byPath.length > 0 ? picomatch(byPath, { dot: true }) : undefined;
  return (rel) => {
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    return (nameMatch?.(base) ?? false) || (pathMatch?.(rel) ?? false);
  };
}
