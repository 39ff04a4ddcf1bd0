/** Splits a byte stream into fixed-size segments with a sha256 each, and reads them back verified. */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Readable } from 'node:stream';

export interface Segment {
  index: number;
  /** Valid until the sink's promise settles: the Segmenter then reuses the memory (copy it to keep it). */
  data: Buffer;
  sha256: string;
}

export interface SegmentRecord {
  index: number;
  size: number;
  sha256: string;
}

/** How far the stream may run ahead into the next segment while one is being stored. */
const STORE_OVERLAP = 16 * 1024 * 1024;

/**
 * Collects `segmentSize` bytes, then hands the segment to `sink` and waits for it to be stored. One buffer serves
 * every segment. While a segment is being stored the stream goes on for a while: the next segment's first bytes
 * queue up in this Writable's buffer, up to STORE_OVERLAP bytes, so reading and compressing do not stop for a short
 * store. Memory therefore stays at one segment plus STORE_OVERLAP whatever the stream size (a second full buffer
 * would overlap long stores completely, but cost a whole segment more; fresh buffers per segment also left their
 * freeing to the garbage collector, and the worker's resident memory grew to three segments and more).
 */
export class Segmenter extends Writable {
  private readonly buffer: Buffer;
  private filled = 0;
  private hash = createHash('sha256');
  private nextIndex: number;

  constructor(
    private readonly segmentSize: number,
    private readonly sink: (segment: Segment) => Promise<void>,
    startIndex = 0
  ) {
    super({ highWaterMark: Math.min(segmentSize, STORE_OVERLAP) });
    this.buffer = Buffer.allocUnsafe(segmentSize);
    this.nextIndex = startIndex;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.consume(chunk).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    (async () => {
      if (this.filled > 0 || this.nextIndex === 0) await this.flush();
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

  /** Stores the filled part of the buffer as the next segment; the buffer is refilled once that is done. */
  private async flush(): Promise<void> {
    const segment: Segment = {
      index: this.nextIndex++,
      data: this.buffer.subarray(0, this.filled),
      sha256: this.hash.digest('hex'),
    };
    await this.sink(segment);
    this.filled = 0;
    this.hash = createHash('sha256');
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
    // Buffered segments are copied into one buffer of the recorded size as they arrive (no list of chunks to concat).
    const held = decode ? Buffer.allocUnsafe(record.size) : undefined;
    for await (const chunk of await open(record.index)) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > record.size) throw new CorruptSegmentError(record.index, `longer than the recorded ${record.size} bytes`);
      hash.update(buf);
      if (held) buf.copy(held, size - buf.length);
      else yield buf;
    }
    if (size !== record.size) throw new CorruptSegmentError(record.index, `${size} bytes, expected ${record.size}`);
    const digest = hash.digest('hex');
    if (digest !== record.sha256) throw new CorruptSegmentError(record.index, `sha256 ${digest}, expected ${record.sha256}`);
    if (decode && held) yield decode(record.index, held);
    onSegment?.(record.index, size);
  }
}
