import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSize, validateBackupFs, validateRestoreFs, ValidationError } from '../../client/validate';

const ctx = { localNode: 'here', defaultStorage: 'local:/var/lib/permafrost/storage' };
const dir = mkdtempSync(join(tmpdir(), 'pf-validate-'));
writeFileSync(join(dir, 'file'), 'x');

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return err.problems;
  }
  assert.fail('expected a ValidationError');
}

test('a valid backup request gets defaults', () => {
  const input = validateBackupFs({ paths: [`${dir}/`], name: 'daily' }, ctx);
  assert.deepEqual(input, {
    node: 'here',
    name: 'daily',
    paths: [dir],
    exclude: [],
    storage: { driver: 'local', path: '/var/lib/permafrost/storage' },
    compression: 'zstd',
    compressionLevel: undefined,
    segmentSize: 64 * 1024 * 1024,
  });
});

test('every problem of a backup request is reported at once', () => {
  const p = problems(() =>
    validateBackupFs(
      { paths: ['relative', join(dir, 'missing')], name: 'bad name', storage: 'ftp://x', compression: 'lz4', segmentSize: '1k' },
      ctx
    )
  );
  assert.equal(p.length, 6, p.join('\n'));
  assert.ok(p.some((m) => m.includes('"relative" must be absolute')));
  assert.ok(p.some((m) => m.includes('missing does not exist')));
  assert.ok(p.some((m) => m.includes('backup name')));
  assert.ok(p.some((m) => m.includes('unknown storage scheme "ftp"')));
  assert.ok(p.some((m) => m.includes('compression must be one of')));
  assert.ok(p.some((m) => m.includes('segment size')));
});

test('paths of another node are not checked here (its worker checks them before writing)', () => {
  const input = validateBackupFs({ paths: ['/only/on/that/node'], name: 'n', node: 'other' }, ctx);
  assert.equal(input.node, 'other');
});

test('compression levels are range-checked per algorithm', () => {
  assert.equal(validateBackupFs({ paths: [dir], name: 'n', compression: 'gzip', compressionLevel: 9 }, ctx).compressionLevel, 9);
  assert.match(problems(() => validateBackupFs({ paths: [dir], name: 'n', compression: 'gzip', compressionLevel: 10 }, ctx))[0]!, /1 to 9/);
  assert.match(problems(() => validateBackupFs({ paths: [dir], name: 'n', compression: 'none', compressionLevel: 1 }, ctx))[0]!, /takes no level/);
});

test('restore requests: backup ids, dates and targets', () => {
  const byId = validateRestoreFs({ name: 'ignored', backup: 'web-1_site/20261126T163400.123Z', target: '/restore/' }, ctx);
  assert.equal(byId.host, 'web-1');
  assert.equal(byId.name, 'site');
  assert.equal(byId.timestamp, '20261126T163400.123Z');
  assert.equal(byId.target, '/restore');
  assert.equal(byId.overwrite, false);
  const p = problems(() => validateRestoreFs({ name: 'site', target: 'rel', fromDate: 'last tuesday', backup: 'nope' }, ctx));
  assert.equal(p.length, 3, p.join('\n'));
  assert.match(problems(() => validateRestoreFs({ name: 'site', target: join(dir, 'file') }, ctx))[0]!, /not a folder/);
});

test('sizes', () => {
  assert.equal(parseSize('64MiB'), 64 * 1024 * 1024);
  assert.equal(parseSize('512k'), 512 * 1024);
  assert.equal(parseSize(1000), 1000);
  assert.equal(parseSize('1.5G'), undefined);
});
