/** Builds tar archives with hostile entries, as an attacker (or a corrupted storage) could. */
import { pack } from 'tar-stream';
import type { Header } from 'tar-stream';

export type EntrySpec = Partial<Header> & { name: string; body?: string };

export async function buildTar(entries: readonly EntrySpec[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of p as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of entries) {
    const { body, ...header } = e;
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (body !== undefined) p.entry({ mode: 0o644, ...header, size: Buffer.byteLength(body) }, body, cb);
      else p.entry({ mode: 0o755, ...header }, cb);
    });
  }
  p.finalize();
  await collected;
  return Buffer.concat(chunks);
}
