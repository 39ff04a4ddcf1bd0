/** Compression levels: defaults and valid ranges, shared by validation and the pipeline. */
import type { Compression } from './types';

export const DEFAULT_LEVELS: Record<Compression, number | undefined> = { zstd: 3, gzip: 6, none: undefined };
const LEVEL_RANGES: Record<Compression, [number, number] | undefined> = { zstd: [1, 19], gzip: [1, 9], none: undefined };

/** Why `level` does not fit `algorithm`, or undefined. */
export function invalidLevel(algorithm: Compression, level: number | undefined): string | undefined {
  if (level === undefined) return undefined;
  const range = LEVEL_RANGES[algorithm];
  if (!range) return `compression ${algorithm} takes no level`;
  if (!Number.isInteger(level) || level < range[0] || level > range[1]) {
    return `compression level for ${algorithm} must be an integer from ${range[0]} to ${range[1]}`;
  }
  return undefined;
}
