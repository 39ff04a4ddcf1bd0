import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CorruptSegmentError, readSegments, Segmenter } from '../../activities/pipeline/segment';
import type { Segment } from '../../activities/pipeline/segment';

async function split(data: Buffer, size: number, chunk: number): Promise<Segment[]> {
  const out: Segment[] = [];
  const seg = new Segmenter(size, async (s) => {
    out.push({ ...s, data: Buffer.from(s.data) });
  });
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) chunks.push(data.subarray(i, i + chunk));
  await pipeline(Readable.from(chunks), seg);
  assert.deepEqual(out.map((s) => s.index), out.map((_, i) => i), 'in order, no gaps');
  return out;
}

test('fixed-size segments with a sha256 each, whatever the chunking', async () => {
  const data = Buffer.alloc(10_000, 7).map((_, i) => i % 251);
  for (const chunk of [1, 999, 4096, 20_000]) {
    const segs = await split(Buffer.from(data), 4096, chunk);
    assert.deepEqual(segs.map((s) => s.data.length), [4096, 4096, 1808]);
    assert.deepEqual(Buffer.concat(segs.map((s) => s.data)), Buffer.from(data));
    for (const s of segs) assert.equal(s.sha256, createHash('sha256').update(s.data).digest('hex'));
  }
});

test('an empty stream still yields one (empty) segment, and an exact multiple no empty tail', async () => {
  assert.deepEqual((await split(Buffer.alloc(0), 16, 4)).map((s) => s.data.length), [0]);
  assert.deepEqual((await split(Buffer.alloc(32), 16, 5)).map((s) => s.data.length), [16, 16]);
});

test('at most one segment is being stored while the next fills', async () => {
  let inflight = 0;
  let peak = 0;
  const seg = new Segmenter(1024, async () => {
    peak = Math.max(peak, ++inflight);
    await new Promise((r) => setTimeout(r, 5));
    inflight--;
  });
  let stored = 0;
  const counting = new Segmenter(1024, async () => {
    stored++;
  });
  await pipeline(Readable.from([Buffer.alloc(10 * 1024)]), seg);
  await pipeline(Readable.from([Buffer.alloc(10 * 1024)]), counting);
  assert.equal(peak, 1);
  assert.equal(stored, 10);
});

test('a sink failure fails the pipeline', async () => {
  const seg = new Segmenter(8, async (s) => {
    if (s.index === 1) throw new Error('disk full');
  });
  await assert.rejects(pipeline(Readable.from([Buffer.alloc(40)]), seg), /disk full/);
});

test('reading back verifies size and hash of every segment', async () => {
  const segs = await split(Buffer.from('hello world, segmented'), 8, 3);
  const records = segs.map((s) => ({ index: s.index, size: s.data.length, sha256: s.sha256 }));
  const stored = segs.map((s) => s.data);
  const read = async (open: (i: number) => Buffer): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for await (const b of readSegments(records, async (i) => Readable.from([open(i)]))) parts.push(b);
    return Buffer.concat(parts);
  };
  assert.equal((await read((i) => stored[i]!)).toString(), 'hello world, segmented');
  const flipped = (i: number): Buffer => (i === 1 ? Buffer.from(stored[1]!.map((b, j) => (j === 0 ? b ^ 1 : b))) : stored[i]!);
  await assert.rejects(read(flipped), (e: unknown) => e instanceof CorruptSegmentError && e.index === 1 && /sha256/.test(e.message));
  await assert.rejects(read((i) => (i === 2 ? stored[2]!.subarray(1) : stored[i]!)), /bytes, expected/);
  await assert.rejects(read((i) => (i === 0 ? Buffer.concat([stored[0]!, Buffer.from('x')]) : stored[i]!)), /longer than/);
});
