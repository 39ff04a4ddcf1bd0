import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUtcDate, selectRestorePoint } from '../../workflows/shared/selection';
import type { BackupSummary } from '../../workflows/shared/types';
import { summary } from '../helpers/summary';

const backup = (timestamp: string): BackupSummary => summary(timestamp);

const backups = ['20261101T000000.000Z', '20261110T120000.000Z', '20261120T235959.999Z'].map(backup);

test('without a date the newest backup is chosen, whatever the listing order', () => {
  const r = selectRestorePoint([...backups].reverse(), {});
  assert.ok(r.ok);
  assert.equal(r.backup.ref.timestamp, '20261120T235959.999Z');
});

test('--from-date picks the newest backup at or before the instant (inclusive), in UTC', () => {
  const at = (d: string): string | undefined => {
    const r = selectRestorePoint(backups, { fromDate: d });
    return r.ok ? r.backup.ref.timestamp : undefined;
  };
  assert.equal(at('2026-11-10T12:00:00Z'), '20261110T120000.000Z', 'exact instant is included');
  assert.equal(at('2026-11-10T11:59:59Z'), '20261101T000000.000Z');
  assert.equal(at('2026-11-10T12:00:00'), '20261110T120000.000Z', 'no zone means UTC');
  assert.equal(at('2026-11-10T13:00:00+01:00'), '20261110T120000.000Z', 'an explicit zone is honoured');
  assert.equal(at('2026-11-15'), '20261110T120000.000Z', 'a bare date is midnight UTC');
  assert.equal(at('2030-01-01T00:00:00Z'), '20261120T235959.999Z');
});

test('a date before the first backup is a clear error, not a silent fallback', () => {
  const r = selectRestorePoint(backups, { fromDate: '2026-10-31T23:59:59Z' });
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.reason, /no backup at or before 2026-10-31T23:59:59.000Z; the oldest is 20261101T000000.000Z/);
});

test('exact timestamps, empty lists and bad dates', () => {
  const exact = selectRestorePoint(backups, { timestamp: '20261101T000000.000Z' });
  assert.ok(exact.ok && exact.backup.ref.timestamp === '20261101T000000.000Z');
  assert.equal(selectRestorePoint(backups, { timestamp: '20991101T000000.000Z' }).ok, false);
  assert.equal(selectRestorePoint([], {}).ok, false);
  assert.equal(selectRestorePoint(backups, { fromDate: 'yesterday' }).ok, false);
  assert.equal(parseUtcDate('2026-02-30T00:00:00Z'), undefined, 'no 30 February');
  assert.equal(parseUtcDate('2026-11-26T25:00:00Z'), undefined);
  assert.equal(parseUtcDate('2026-11-26T10:00:00.5Z')?.toISOString(), '2026-11-26T10:00:00.500Z');
  assert.equal(parseUtcDate('2026-11-26T10:00-0230')?.toISOString(), '2026-11-26T12:30:00.000Z');
});
