import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parentsOf, resolveLinkInside, safeEntryPath, UnsafeEntryError } from '../../activities/pipeline/path-safety';

test('entry names are normalized', () => {
  assert.equal(safeEntryPath('./a/b/'), 'a/b');
  assert.equal(safeEntryPath('a//b/./c'), 'a/b/c');
  assert.equal(safeEntryPath('..foo/bar..'), '..foo/bar..', 'dots inside names are fine');
});

test('absolute, parent-escaping, empty and NUL names are refused', () => {
  for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a/..', '.', './', '', 'a\0b']) {
    assert.throws(() => safeEntryPath(bad), UnsafeEntryError, JSON.stringify(bad));
  }
});

test('parents are listed outermost first', () => {
  assert.deepEqual(parentsOf('a/b/c'), ['a', 'a/b']);
  assert.deepEqual(parentsOf('a'), []);
});

test('symlink targets are resolved against the archive, following archived links', () => {
  const none = new Map<string, string>();
  assert.equal(resolveLinkInside('a/link', '../b', none), 'b');
  assert.equal(resolveLinkInside('link', '.', none), '');
  assert.equal(resolveLinkInside('a/link', '../../etc', none), undefined, 'leaves the root');
  assert.equal(resolveLinkInside('link', '/etc/passwd', none), undefined, 'absolute');
  // `up` points to the root's parent only through another link.
  const links = new Map([
    ['sub/up', '../..'],
    ['ok', 'sub/inner'],
    ['loop1', 'loop2'],
    ['loop2', 'loop1'],
  ]);
  assert.equal(resolveLinkInside('x', 'sub/up/etc', links), undefined, 'a chain through another link escapes');
  assert.equal(resolveLinkInside('y', 'ok/file', links), 'sub/inner/file');
  assert.equal(resolveLinkInside('z', 'loop1', links), undefined, 'loops are refused');
});
