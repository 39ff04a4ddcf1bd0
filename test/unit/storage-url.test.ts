import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStorage, parseStorageUrl } from '../../workflows/shared/storage-url';

test('local storage URLs', () => {
  assert.deepEqual(parseStorageUrl('local:/srv/backups/'), { ok: true, target: { driver: 'local', path: '/srv/backups' } });
  assert.deepEqual(parseStorageUrl('local:///srv/b'), { ok: true, target: { driver: 'local', path: '/srv/b' } });
  assert.deepEqual(parseStorageUrl('/srv/b'), { ok: true, target: { driver: 'local', path: '/srv/b' } });
  assert.equal(formatStorage({ driver: 'local', path: '/srv/b' }), 'local:/srv/b');
});

test('unknown schemes and relative paths are refused with a reason', () => {
  const unknown = parseStorageUrl('ftp://host/x');
  assert.equal(unknown.ok, false);
  assert.match(unknown.ok ? '' : unknown.reason, /unknown storage scheme "ftp"/);
  assert.equal(parseStorageUrl('local:relative').ok, false);
  assert.equal(parseStorageUrl('backups').ok, false);
  assert.equal(parseStorageUrl('local:/srv/../etc').ok, false);
});
