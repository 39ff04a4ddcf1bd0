import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createThrottle, TokenBucket } from '../../activities/pipeline/throttle';

test('the bucket allows one second of burst, then meters at the rate', () => {
  let now = 0;
  const bucket = new TokenBucket(1000, 1000, () => now);
  assert.equal(bucket.take(1000), 0, 'the burst passes at once');
  assert.equal(bucket.take(500), 500, 'then 500 bytes cost half a second');
  now = 500;
  assert.equal(bucket.take(0), 0, 'paid off after waiting');
  now = 10_000;
  assert.equal(bucket.take(1000), 0, 'idle time refills only up to the burst');
  assert.equal(bucket.take(1), 1);
});

test('a throttled stream is not faster than its limit (a lower bound, so load cannot break it)', async () => {
  const rate = 4 * 1024 * 1024;
  const chunks = Array.from({ length: 48 }, () => Buffer.alloc(256 * 1024)); // 12 MiB = 4 MiB burst + 2 s
  let bytes = 0;
  const start = performance.now();
  await pipeline(
    Readable.from(chunks),
    createThrottle(rate),
    new Writable({
      write(c: Buffer, _e, cb) {
        bytes += c.length;
        cb();
      },
    })
  );
  const seconds = (performance.now() - start) / 1000;
  assert.equal(bytes, 12 * 1024 * 1024);
  assert.ok(seconds >= 1.9, `took ${seconds.toFixed(2)} s; at most the burst may pass early`);
});

test('an abort while waiting fails the stream promptly', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('stop')), 50);
  const start = performance.now();
  await assert.rejects(pipeline(Readable.from([Buffer.alloc(4096), Buffer.alloc(1024 * 1024)]), createThrottle(1024, ac.signal), new Writable({ write: (_c, _e, cb) => cb() })));
  assert.ok(performance.now() - start < 2000);
});
