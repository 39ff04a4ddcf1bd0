import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backupPrefix,
  formatBackupTimestamp,
  invalidBackupName,
  invalidNodeName,
  manifestKey,
  parseBackupId,
  parseBackupTimestamp,
  segmentKey,
} from '../../workflows/shared/naming';
import { nodeTaskQueue } from '../../workflows/shared/queues';

test('timestamps are UTC, sortable and round-trip', () => {
  const d = new Date('2026-11-26T16:34:00.123Z');
  const s = formatBackupTimestamp(d);
  assert.equal(s, '20261126T163400.123Z');
  assert.equal(parseBackupTimestamp(s)?.toISOString(), d.toISOString());
  assert.ok(formatBackupTimestamp(new Date('2026-01-02T00:00:00Z')) < formatBackupTimestamp(new Date('2026-10-01T00:00:00Z')));
  assert.equal(parseBackupTimestamp('20261332T000000.000Z'), undefined, 'month 13 is rejected');
  assert.equal(parseBackupTimestamp('2026-11-26'), undefined);
});

test('layout keys: <host>_<name>/<timestamp>/..., segments zero-padded', () => {
  const ref = { host: 'compute-1', name: 'etc', timestamp: '20261126T163400.123Z' };
  assert.equal(backupPrefix(ref), 'compute-1_etc/20261126T163400.123Z');
  assert.equal(segmentKey(ref, 7), 'compute-1_etc/20261126T163400.123Z/segments/00000007');
  assert.ok(segmentKey(ref, 10) > segmentKey(ref, 9));
  assert.equal(manifestKey(ref), 'compute-1_etc/20261126T163400.123Z/manifest.json');
  assert.deepEqual(parseBackupId(backupPrefix(ref)), ref);
  assert.deepEqual(parseBackupId('compute-1_my_name/20261126T163400.123Z'), { ...ref, name: 'my_name' }, 'names may hold _');
  assert.equal(parseBackupId('compute-1_etc/not-a-time'), undefined);
  assert.equal(nodeTaskQueue('compute-1'), 'permafrost-node-compute-1');
});

test('backup and node names are validated', () => {
  for (const ok of ['etc', 'db.daily', 'a-b_c', 'X1']) assert.equal(invalidBackupName(ok), undefined, ok);
  for (const bad of ['', '.', '..', '-x', 'a/b', 'a b', 'x'.repeat(129), 'é']) assert.ok(invalidBackupName(bad), bad);
  for (const ok of ['compute-1', 'node.example.org', 'n']) assert.equal(invalidNodeName(ok), undefined, ok);
  for (const bad of ['', 'under_score', '-x', 'x-', 'a b']) assert.ok(invalidNodeName(bad), bad);
});
