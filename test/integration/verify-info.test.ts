/** verify reads a stored backup end to end; info summarizes a storage. Both as workflows on the real server. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeFailure } from '../../client';
import { segmentKey } from '../../workflows/shared/naming';
import type { BackupFsResult } from '../../workflows/shared/types';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { generateTree, tempDir } from '../helpers/tree';

let env: TestEnv;
let plain: BackupFsResult;
let encrypted: BackupFsResult;
let keyFile: string;
const id = (r: BackupFsResult): string => `${r.ref.host}_${r.ref.name}/${r.ref.timestamp}`;

before(async () => {
  env = await startTestEnv();
  const src = await tempDir('verify-src');
  await generateTree(src, { bigFileBytes: 2 * 1024 * 1024 });
  keyFile = join(await tempDir('keys'), 'k');
  await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
  plain = await env.client.backupFs({ paths: [src], name: 'plain', segmentSize: '512KiB' });
  encrypted = await env.client.backupFs({ paths: [src], name: 'secret', segmentSize: '512KiB', encryption: { keyFile } });
});
after(async () => env.shutdown());

test('verify reads every segment and the whole archive', async () => {
  const r = await env.client.verifyBackup({ backup: id(plain) });
  assert.equal(r.archiveChecked, true);
  assert.equal(r.decrypted, false);
  assert.equal(r.segments, plain.stats.segments);
  assert.equal(r.bytes, plain.stats.bytes);
  assert.ok(r.entries > 60);
});

test('verify of an encrypted backup decrypts with the key, and checks hashes only without it', async () => {
  const withKey = await env.client.verifyBackup({ backup: id(encrypted), encryption: { keyFile } });
  assert.equal(withKey.decrypted, true);
  assert.equal(withKey.archiveChecked, true);
  const noKey = await env.client.verifyBackup({ backup: id(encrypted) });
  assert.equal(noKey.archiveChecked, false);
  assert.equal(noKey.segments, encrypted.stats.segments);
});

test('verify finds a damaged segment', async () => {
  const victim = join(env.storageDir, ...segmentKey(plain.ref, 2).split('/'));
  const bytes = await readFile(victim);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x55;
  await writeFile(victim, bytes);
  const handle = await env.client.startVerifyBackup({ backup: id(plain) });
  await assert.rejects(handle.result(), (e: unknown) => /CorruptSegmentError: segment 2 is corrupt/.test(describeFailure(e)));
});

test('info sums backups per host and name', async () => {
  const info = await env.client.storageInfo();
  assert.deepEqual(info.groups.map((g) => `${g.host}_${g.name}`), [`${env.node}_plain`, `${env.node}_secret`]);
  assert.equal(info.totals.backups, 2);
  assert.equal(info.totals.segments, plain.stats.segments + encrypted.stats.segments);
  assert.equal(info.totals.storedBytes, plain.stats.storedBytes + encrypted.stats.storedBytes);
});

test('verify of an incremental backup verifies its whole chain', async () => {
  const src = await tempDir('verify-chain');
  await writeFile(join(src, 'a'), 'level 0');
  const l0 = await env.client.backupFs({ paths: [src], name: 'chained', levels: { maxLevel: 5 } });
  await writeFile(join(src, 'b'), 'level 1');
  const l1 = await env.client.backupFs({ paths: [src], name: 'chained', levels: { maxLevel: 5 } });
  const r = await env.client.verifyBackup({ backup: id(l1) });
  assert.deepEqual(r.chain, [l0.ref, l1.ref]);
  assert.equal(r.segments, l0.stats.segments + l1.stats.segments);
  // A damaged level 0 makes the level 1 unverifiable too.
  const victim = join(env.storageDir, ...segmentKey(l0.ref, 0).split('/'));
  const bytes = await readFile(victim);
  bytes[0] = bytes[0]! ^ 1;
  await writeFile(victim, bytes);
  await assert.rejects(env.client.verifyBackup({ backup: id(l1) }), (e: unknown) => /CorruptSegmentError/.test(describeFailure(e)));
});
