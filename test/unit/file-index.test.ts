import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changed, decodeIndex, deletedSince, encodeIndex } from '../../activities/file-index';
import type { IndexEntry } from '../../activities/file-index';

const f = (size: number, mtime = 1, ctime = 1): IndexEntry => ({ t: 'f', size, mtime, ctime });
const d: IndexEntry = { t: 'd', size: 0, mtime: 1, ctime: 1 };

test('a file is stored again when new, resized, touched, chmod-ed (ctime) or of another type', () => {
  assert.equal(changed(undefined, f(1)), true);
  assert.equal(changed(f(1), f(1)), false);
  assert.equal(changed(f(1), f(2)), true);
  assert.equal(changed(f(1, 1), f(1, 2)), true);
  assert.equal(changed(f(1, 1, 1), f(1, 1, 2)), true);
  assert.equal(changed(f(1), { ...f(1), t: 'l', link: 'x' }), true);
  assert.equal(changed({ t: 'l', size: 1, mtime: 1, ctime: 1, link: 'a' }, { t: 'l', size: 1, mtime: 1, ctime: 1, link: 'b' }), true);
});

test('deletions: outermost names only, type changes count as deletions', () => {
  const prev = new Map<string, IndexEntry>([
    ['gone', d],
    ['gone/a', f(1)],
    ['gone/b', f(1)],
    ['kept', f(1)],
    ['was-file', f(1)],
    ['x', f(1)],
  ]);
  const cur = new Map<string, IndexEntry>([
    ['kept', f(2)],
    ['was-file', d],
  ]);
  assert.deepEqual(deletedSince(prev, cur), ['gone', 'was-file', 'x']);
});

test('the index round-trips through its stored form', () => {
  const entries = new Map<string, IndexEntry>([
    ['a', f(3, 4, 5)],
    ['l', { t: 'l', size: 1, mtime: 2, ctime: 3, link: '../a' }],
    ['ünï', d],
  ]);
  const back = decodeIndex(encodeIndex({ entries, deleted: ['old'] }));
  assert.deepEqual([...back.entries], [...entries]);
  assert.deepEqual(back.deleted, ['old']);
  assert.throws(() => decodeIndex(Buffer.from('junk')), /cannot be read/);
});
