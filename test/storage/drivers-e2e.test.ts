/** The whole Temporal path (workflows, node activities) over each real storage driver of the lab. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { describeFailure } from '../../client';
import { diffTrees, generateTree, listFiles, tempDir, writeRandomFile } from '../helpers/tree';

function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through \`npm test\` (scripts/test.sh starts the lab)`);
  return value;
}

let env: TestEnv;
let src: string;
before(async () => {
  env = await startTestEnv();
  src = await tempDir('e2e-src');
  await generateTree(src, { bigFileBytes: 12 * 1024 * 1024 });
});
after(async () => env.shutdown());

const unique = randomBytes(4).toString('hex');
const storages: Record<string, () => string> = {
  // Keystone v3 from the worker's OS_* environment (lab.sh env).
  swift: () => (need('OS_AUTH_URL'), `swift:e2e-${unique}`),
  ssh: () =>
    `ssh://${need('PERMAFROST_TEST_SSH_USER')}@${need('PERMAFROST_TEST_SSH_HOST')}:${need('PERMAFROST_TEST_SSH_PORT')}` +
    `${need('PERMAFROST_TEST_SSH_ROOT')}/e2e-${unique}?identity=${need('PERMAFROST_TEST_SSH_KEY')}&known_hosts=${need('PERMAFROST_TEST_SSH_KNOWN_HOSTS')}`,
};

for (const [driver, storage] of Object.entries(storages)) {
  test(`${driver}: backup, list and a byte-identical restore through Temporal`, async () => {
    const url = storage();
    const backup = await env.client.backupFs({ paths: [src], name: `e2e-${driver}`, storage: url, segmentSize: '4MiB' });
    assert.ok(backup.stats.segments >= 3);
    const listed = await env.client.listBackups({ storage: url, name: `e2e-${driver}` });
    assert.deepEqual(listed.map((b) => b.ref), [backup.ref]);
    const dst = join(await tempDir('e2e-dst'), 'r');
    await env.client.restoreFs({ name: `e2e-${driver}`, storage: url, target: dst });
    assert.deepEqual(await diffTrees(src, dst), []);
  });
}

test('fan-out to Swift + SSH + local with the local target failing: per-target report, no silent partial', async () => {
  // A 3 MiB tmpfs fills up in the middle of the backup (ENOSPC), a real mid-way failure.
  const full = await tempDir('full');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', full]);
  try {
    const swift = storages.swift!();
    const ssh = storages.ssh!();
    const handle = await env.client.startBackupFs({ paths: [src], name: 'fan-out', storage: [swift, ssh, `local:${full}`], segmentSize: '1MiB' });
    let message = '';
    await assert.rejects(handle.result(), (e: unknown) => {
      message = describeFailure(e);
      return /PartialBackupError/.test(message);
    });
    assert.match(message, new RegExp(`committed on swift:e2e-${unique}, ssh://`));
    assert.match(message, new RegExp(`FAILED on local:${full} \\(storage full`));
    assert.deepEqual(await listFiles(full), [], 'the failed target keeps nothing');
    for (const url of [swift, ssh]) {
      const listed = await env.client.listBackups({ storage: url, name: 'fan-out' });
      assert.equal(listed.length, 1, `${url} holds the backup`);
      const dst = join(await tempDir('fan-dst'), 'r');
      await env.client.restoreFs({ name: 'fan-out', storage: url, target: dst });
      assert.deepEqual(await diffTrees(src, dst), []);
    }
  } finally {
    execFileSync('umount', [full]);
  }
});

test('swift: a 200 MB stream in 8 MiB segments', async () => {
  const big = await tempDir('big');
  await writeRandomFile(join(big, 'stream.bin'), 200 * 1024 * 1024);
  const url = `swift:big-${unique}`;
  const r = await env.client.backupFs({ paths: [big], name: 'big', storage: url, segmentSize: '8MiB', compression: 'none' });
  assert.equal(r.stats.segments, 26);
  const v = await env.client.verifyBackup({ backup: `${r.ref.host}_${r.ref.name}/${r.ref.timestamp}`, storage: url });
  assert.equal(v.archiveChecked, true);
  const dst = join(await tempDir('big-dst'), 'r');
  await env.client.restoreFs({ name: 'big', storage: url, target: dst });
  assert.deepEqual(await diffTrees(big, dst), []);
});
