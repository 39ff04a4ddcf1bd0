/** Splits a byte stream into fixed-size segments with a sha256 each, and reads them back verified. */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Readable } from 'node:stream';

export interface Segment {
  index: number;
  data: Buffer;
  sha256: string;
}

export interface SegmentRecord {
  index: number;
  size: number;
  sha256: string;
}

/**
 * Collects `segmentSize` bytes, then hands the segment to `sink`. At most one segment is being stored while the next
 * fills, so memory stays at about two segments whatever the stream size.
 */
export class Segmenter extends Writable {
  private buffer: Buffer;
  private filled = 0;
  private hash = createHash('sha256');
  private nextIndex: number;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly segmentSize: number,
    private readonly sink: (segment: Segment) => Promise<void>,
    startIndex = 0
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.buffer = Buffer.allocUnsafe(segmentSize);
    this.nextIndex = startIndex;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.consume(chunk).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    (async () => {
      if (this.filled > 0 || this.nextIndex === 0) await this.flush();
      await this.inflight;
    })().then(() => cb(), cb);
  }

  private async consume(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.segmentSize - this.filled, chunk.length - offset);
      const part = chunk.subarray(offset, offset + take);
      part.copy(this.buffer, this.filled);
      this.hash.update(part);
      this.filled += take;
      offset += take;
      if (this.filled === this.segmentSize) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    const segment: Segment = {
      index: this.nextIndex++,
      data: this.buffer.subarray(0, this.filled),
      sha256: this.hash.digest('hex'),
    };
    if (this.inflight) await this.inflight;
    this.buffer = Buffer.allocUnsafe(this.segmentSize);
    this.filled = 0;
    this.hash = createHash('sha256');
    const put = this.sink(segment);
    put.catch(() => undefined); // surfaced by the next await
    this.inflight = put;
  }
}

/** Thrown when a stored segment's bytes are not what the manifest recorded. */
export class CorruptSegmentError extends Error {
  override readonly name = 'CorruptSegmentError';
  constructor(
    readonly index: number,
    readonly detail: string
  ) {
    super(`segment ${index} is corrupt: ${detail}`);
  }
}

/**
 * Yields the bytes of `records` in order, checking each segment's size and sha256. Without `decode` the bytes stream
 * through and a mismatch throws at the end of that segment (callers write into a staging area, so nothing built from
 * bad bytes is kept). With `decode` (decryption) each segment is buffered, checked, then decoded: one segment of
 * memory, and nothing unauthenticated is passed on.
 */
export async function* readSegments(
  records: readonly SegmentRecord[],
  open: (index: number) => Promise<Readable>,
  onSegment?: (index: number, size: number) => void,
  decode?: (index: number, stored: Buffer) => Buffer
): AsyncGenerator<Buffer> {
  for (const record of records) {
    const hash = createHash('sha256');
    let size = 0;
    const held: Buffer[] = [];
    for await (const chunk of await open(record.index)) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > record.size) throw new CorruptSegmentError(record.index, `longer than the recorded ${record.size} bytes`);
      hash.update(buf);
      if (decode) held.push(buf);
      else yield buf;
    }
    if (size !== record.size) throw new CorruptSegmentError(record.index, `${size} bytes, expected ${record.size}`);
    const digest = hash.digest('hex');
    if (digest !== record.sha256) throw new CorruptSegmentError(record.index, `sha256 ${digest}, expected ${record.sha256}`);
    if (decode) yield decode(record.index, Buffer.concat(held, size));
    onSegment?.(record.index, size);
  }
}
