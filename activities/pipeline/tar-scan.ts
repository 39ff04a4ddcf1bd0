/** Reads a tar stream to its end without writing anything: proves the archive is complete and parseable. */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as createExtract } from 'tar-stream';
import { safeEntryPath } from './path-safety';

export interface ScanResult {
  entries: number;
  files: number;
  bytes: number;
  /** Entries a restore would refuse (tar-slip); a backup made by permafrost has none. */
  unsafe: string[];
}

export async function scanTar(input: Readable, signal?: AbortSignal): Promise<ScanResult> {
  const result: ScanResult = { entries: 0, files: 0, bytes: 0, unsafe: [] };
  const extract = createExtract();
  const feeding = pipeline(input, extract as unknown as NodeJS.WritableStream, { signal });
  feeding.catch(() => undefined);
  for await (const entry of extract) {
    result.entries++;
    try {
      safeEntryPath(entry.header.name);
    } catch (err) {
      if (result.unsafe.length < 20) result.unsafe.push((err as Error).message);
    }
    if (entry.header.type === 'file' || entry.header.type === 'contiguous-file') result.files++;
    for await (const chunk of entry) result.bytes += (chunk as Buffer).length;
  }
  await feeding;
  return result;
}
