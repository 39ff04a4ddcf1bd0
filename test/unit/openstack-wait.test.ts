/** The OpenStack waits: ready and error states, timeouts, heartbeats on every poll, backoff, cancellation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_POLL_MS,
  DEFAULT_POLL_MS,
  isErrorStatus,
  ResourceErrorStateError,
  ResourceWaitTimeoutError,
  waitForStatus,
  waitGone,
  waitSettled,
} from '../../activities/openstack/wait';

interface R {
  id: string;
  status: string;
  fault?: string;
}

/** A resource that goes through `statuses`, one per poll (staying at the last one); undefined = gone. Records poll times. */
function sequence(statuses: (string | undefined)[]): { get: () => Promise<R | undefined>; polls: number[] } {
  const polls: number[] = [];
  const get = async (): Promise<R | undefined> => {
    const status = statuses[Math.min(polls.length, statuses.length - 1)];
    polls.push(Date.now());
    return status === undefined ? undefined : { id: 'r1', status };
  };
  return { get, polls };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e
  );
}

const fast = { pollMs: 5, maxPollMs: 10 };

test('waitForStatus returns the resource once it is ready, calling onPoll on every poll', async () => {
  const s = sequence(['creating', 'creating', 'downloading', 'available']);
  const seen: (string | undefined)[] = [];
  const elapsed: number[] = [];
  const r = await waitForStatus('volume r1', s.get, ['available', 'in-use'], {
    timeoutMs: 5000,
    ...fast,
    onPoll: (status, ms) => {
      seen.push(status);
      elapsed.push(ms);
    },
  });
  assert.deepEqual(r, { id: 'r1', status: 'available' });
  assert.equal(s.polls.length, 4);
  assert.deepEqual(seen, ['creating', 'creating', 'downloading', 'available']);
  assert.ok(elapsed.every((ms, i) => ms >= 0 && (i === 0 || ms >= (elapsed[i - 1] ?? 0))), String(elapsed));
  // Statuses compare case-insensitively (Nova says ACTIVE).
  assert.equal((await waitForStatus('server', sequence(['BUILD', 'ACTIVE']).get, ['active'], { timeoutMs: 1000, ...fast })).status, 'ACTIVE');
  // Ready at the first poll: no sleep at all.
  const once = sequence(['available']);
  const t0 = Date.now();
  await waitForStatus('v', once.get, ['available'], { timeoutMs: 1000 });
  assert.equal(once.polls.length, 1);
  assert.ok(Date.now() - t0 < 100);
});

test('waitForStatus fails at once on an error state, with the detail', async () => {
  for (const status of ['error', 'error_restoring', 'error_extending', 'killed', 'deactivated', 'ERROR']) {
    const s = sequence(['creating', status, 'available']);
    const err = await rejection(waitForStatus('thing r1', s.get, ['available', 'active'], { timeoutMs: 5000, ...fast }));
    assert.ok(err instanceof ResourceErrorStateError, String(err));
    assert.equal(err.name, 'ResourceErrorStateError');
    assert.equal(err.message, `thing r1: status ${status}`);
    assert.equal(s.polls.length, 2, `${status}: no further poll`);
  }
  const detailed = await rejection(
    waitForStatus('backup b', async () => ({ id: 'b', status: 'error', fault: 'no space' }), ['available'], { timeoutMs: 1000, detail: (r: R) => r.fault })
  );
  assert.ok(detailed instanceof ResourceErrorStateError);
  assert.equal(detailed.message, 'backup b: status error (no space)');
  // Vanishing while being waited for is a failure too.
  const gone = await rejection(waitForStatus('v', sequence(['creating', undefined]).get, ['available'], { timeoutMs: 1000, ...fast }));
  assert.ok(gone instanceof ResourceErrorStateError);
  assert.match(gone.message, /no longer exists/);
  // An error state that is the wanted one is not a failure (waiting for a volume to become `error` on purpose).
  assert.equal((await waitForStatus('v', sequence(['deleting', 'error']).get, ['error'], { timeoutMs: 1000, ...fast })).status, 'error');
  assert.deepEqual(
    ['error_deleting', 'Error', 'killed', 'deactivated', 'available', 'creating', 'in-use'].map(isErrorStatus),
    [true, true, true, true, false, false, false]
  );
});

test('waitForStatus times out with ResourceWaitTimeoutError, not much after the timeout', async () => {
  const s = sequence(['creating']);
  const polls: (string | undefined)[] = [];
  const t0 = Date.now();
  const err = await rejection(waitForStatus('snapshot s1', s.get, ['available'], { timeoutMs: 300, pollMs: 20, maxPollMs: 50, onPoll: (st) => polls.push(st) }));
  const took = Date.now() - t0;
  assert.ok(err instanceof ResourceWaitTimeoutError, String(err));
  assert.equal(err.name, 'ResourceWaitTimeoutError');
  assert.match(err.message, /^snapshot s1: still creating after 0 s \(timeout 0 s\)$/);
  assert.ok(took >= 300 && took < 700, `took ${took} ms`);
  assert.equal(polls.length, s.polls.length, 'onPoll on every poll');
  assert.ok(s.polls.length >= 4 && s.polls.length <= 10, `${s.polls.length} polls`);
});

test('polls back off: the first interval is ~200 ms by default, doubling to a cap', async () => {
  assert.equal(DEFAULT_POLL_MS, 200);
  assert.equal(DEFAULT_MAX_POLL_MS, 500);
  const d = sequence(['creating', 'creating', 'creating', 'available']);
  await waitForStatus('v', d.get, ['available'], { timeoutMs: 10_000, maxPollMs: 300 });
  const gaps = d.polls.slice(1).map((t, i) => t - (d.polls[i] ?? 0));
  assert.equal(gaps.length, 3);
  // Uncapped the gaps would be 200, 400, 800 ms.
  const [g1 = 0, g2 = 0, g3 = 0] = gaps;
  assert.ok(g1 >= 195 && g1 < 290, `first interval ${g1} ms`);
  assert.ok(g2 >= 295 && g2 < 390, `second interval capped at 300: ${g2} ms`);
  assert.ok(g3 >= 295 && g3 < 390, `third interval capped at 300: ${g3} ms`);

  const e = sequence(['a', 'a', 'a', 'a', 'a', 'ready']);
  await waitForStatus('v', e.get, ['ready'], { timeoutMs: 10_000, pollMs: 10, maxPollMs: 40 });
  const egaps = e.polls.slice(1).map((t, i) => t - (e.polls[i] ?? 0));
  const expected = [10, 20, 40, 40, 40];
  egaps.forEach((g, i) => assert.ok(g >= (expected[i] ?? 0) - 3, `gap ${i}: ${g} ms, expected at least ${expected[i]}`));
  const total = egaps.reduce((a, b) => a + b, 0);
  assert.ok(total < 260, `${total} ms in all: capped at 40 (uncapped: 10+20+40+80+160 = 310)`);
});

test('an aborted signal stops the wait: before the first poll and during a sleep', async () => {
  const ac = new AbortController();
  ac.abort(new Error('cancelled by the workflow'));
  const s = sequence(['creating']);
  await assert.rejects(waitForStatus('v', s.get, ['available'], { timeoutMs: 1000, signal: ac.signal }), /cancelled by the workflow/);
  assert.equal(s.polls.length, 0);

  const later = new AbortController();
  const t = sequence(['creating']);
  const t0 = Date.now();
  setTimeout(() => later.abort(), 50);
  const err = await rejection(waitForStatus('v', t.get, ['available'], { timeoutMs: 10_000, pollMs: 1000, signal: later.signal }));
  assert.equal((err as Error).name, 'AbortError');
  assert.ok(Date.now() - t0 < 600, 'the 1 s sleep is interrupted, not waited out');
  assert.equal(t.polls.length, 1);
  // The heartbeat callback is where Temporal delivers cancellation: an abort raised there ends the wait too.
  const viaPoll = new AbortController();
  const u = sequence(['creating']);
  await assert.rejects(
    waitGone('v', u.get, {
      timeoutMs: 10_000,
      ...fast,
      signal: viaPoll.signal,
      onPoll: () => {
        if (u.polls.length === 2) viaPoll.abort();
      },
    }),
    { name: 'AbortError' }
  );
  assert.equal(u.polls.length, 2);
});

test('waitGone: undefined and deleted are gone, error_deleting fails, other states are waited out', async () => {
  const a = sequence(['available', 'deleting', undefined]);
  const seen: (string | undefined)[] = [];
  await waitGone('volume r1', a.get, { timeoutMs: 1000, ...fast, onPoll: (st) => seen.push(st) });
  assert.deepEqual(seen, ['available', 'deleting', undefined]);
  const b = sequence(['deleting', 'deleted']);
  await waitGone('image r1', b.get, { timeoutMs: 1000, ...fast });
  assert.equal(b.polls.length, 2);
  const c = sequence(['deleting', 'error_deleting', undefined]);
  const err = await rejection(waitGone('snapshot r1', c.get, { timeoutMs: 1000, ...fast }));
  assert.ok(err instanceof ResourceErrorStateError, String(err));
  assert.equal(err.message, 'snapshot r1: status error_deleting');
  assert.equal(c.polls.length, 2);
  // An `error` resource (its delete queued behind an operation) is waited for, not failed.
  const d = sequence(['error', 'deleting', undefined]);
  await waitGone('volume r1', d.get, { timeoutMs: 1000, ...fast });
  const e = await rejection(waitGone('volume r2', sequence(['deleting']).get, { timeoutMs: 100, ...fast }));
  assert.ok(e instanceof ResourceWaitTimeoutError, String(e));
  assert.match(e.message, /still deleting/);
});

test('waitSettled waits out transitional states and returns the settled resource, or undefined when gone', async () => {
  const a = sequence(['creating', 'CREATING', 'available']);
  assert.deepEqual(await waitSettled('snapshot s', a.get, ['creating', 'backing-up'], { timeoutMs: 1000, ...fast }), { id: 'r1', status: 'available' });
  assert.equal(a.polls.length, 3);
  // Error states are settled too: the caller decides (a delete of an `error` snapshot is fine).
  assert.equal((await waitSettled('s', sequence(['creating', 'error']).get, ['creating'], { timeoutMs: 1000, ...fast }))?.status, 'error');
  assert.equal(await waitSettled('s', sequence(['creating', undefined]).get, ['creating'], { timeoutMs: 1000, ...fast }), undefined);
  const polls: (string | undefined)[] = [];
  const err = await rejection(waitSettled('volume v', sequence(['uploading']).get, ['uploading'], { timeoutMs: 100, ...fast, onPoll: (s) => polls.push(s) }));
  assert.ok(err instanceof ResourceWaitTimeoutError, String(err));
  assert.match(err.message, /^volume v: still uploading after/);
  assert.ok(polls.length > 3 && polls.every((s) => s === 'uploading'));
});
