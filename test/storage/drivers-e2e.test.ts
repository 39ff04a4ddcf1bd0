/** The whole Temporal path (workflows, node activities) over each real storage driver of the lab. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { diffTrees, generateTree, tempDir } from '../helpers/tree';

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
