/** The operator's path: a real worker process and the permafrost CLI, exit codes included. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PermafrostClient } from '../../client';
import { loadConfig } from '../../client/config';
import { testServerAddress } from '../helpers/temporal';
import { diffTrees, generateTree, tempDir } from '../helpers/tree';

const ROOT = join(__dirname, '..', '..', '..');
const node = `cli-${randomBytes(3).toString('hex')}`;
let storage: string;
let worker: ChildProcess;
let workerLog = '';
let env: NodeJS.ProcessEnv;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/client/cli/main.js'), ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  storage = `local:${await tempDir('cli-storage')}`;
  env = { ...process.env, TEMPORAL_ADDRESS: testServerAddress(), PERMAFROST_NODE: node, PERMAFROST_STORAGE: storage };
  worker = spawn(process.execPath, [join(ROOT, 'dist/workers/main.js'), '--role', 'all'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  worker.stdout!.on('data', (d: Buffer) => (workerLog += d.toString()));
  worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!workerLog.includes('permafrost worker started')) {
    if (Date.now() > deadline || worker.exitCode !== null) throw new Error(`worker did not start:\n${workerLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(() => {
  if (worker.exitCode === null) worker.kill('SIGKILL');
});

test('invalid input exits 2 before any workflow starts', async () => {
  const before = await countRuns();
  const r = cli('backup', 'fs', 'relative/path', '/does/not/exist', '--name', 'bad name', '--storage', 'ftp://x');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /must be absolute/);
  assert.match(r.stderr, /\/does\/not\/exist does not exist/);
  assert.match(r.stderr, /unknown storage scheme "ftp"/);
  assert.equal(cli('restore', 'fs', '--name', 'x', '--target', '/tmp/y', '--from-date', 'not-a-date').code, 2);
  assert.equal(cli('backup', 'fs', '/tmp', '--name', 'x', '--compression', 'lz4').code, 2, 'choices are checked');
  assert.equal(await countRuns(), before, 'no workflow was started');
});

test('a node without a worker is reported (exit 4), not waited on forever', () => {
  const r = cli('list', '--node', 'nobody-polls-this');
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /no node worker polls permafrost-node-nobody-polls-this/);
});

test('backup, list, restore and status through the CLI, with --json', async () => {
  const src = await tempDir('cli-src');
  await generateTree(src);
  const b = cli('--json', 'backup', 'fs', src, '--name', 'cli', '--exclude', '*.sh');
  assert.equal(b.code, 0, b.stderr);
  const backup = JSON.parse(b.stdout) as { workflowId: string; ref: { host: string; name: string; timestamp: string } };
  assert.equal(backup.ref.host, node);

  const l = cli('--json', 'list', '--name', 'cli');
  assert.equal(l.code, 0, l.stderr);
  assert.deepEqual((JSON.parse(l.stdout) as { ref: unknown }[]).map((x) => x.ref), [backup.ref]);
  const text = cli('list');
  assert.match(text.stdout, new RegExp(`${node}_cli/${backup.ref.timestamp.replace('.', '\\.')}`));

  const dst = join(await tempDir('cli-dst'), 'restored');
  const r = cli('restore', 'fs', '--name', 'cli', '--target', dst, '--backup', `${node}_cli/${backup.ref.timestamp}`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /every segment verified/);
  assert.match(r.stdout, /restore plan \(applying 1 backup, in this order\):\n {2}1\. level 0/);
  const dry = cli('restore', 'fs', '--name', 'cli', '--target', join(await tempDir('cli-dry'), 'x'), '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /restore plan \(would apply 1 backup/);
  assert.match(dry.stdout, /dry run: nothing was read or written/);
  assert.deepEqual(await diffTrees(src, dst, (rel) => rel === 'script.sh'), []);

  const s = cli('--json', 'status', backup.workflowId);
  assert.equal(s.code, 0, s.stderr);
  const status = JSON.parse(s.stdout) as { status: string; searchAttributes: Record<string, string> };
  assert.equal(status.status, 'COMPLETED');
  assert.equal(status.searchAttributes.BackupNode, node);

  const again = cli('restore', 'fs', '--name', 'cli', '--target', dst);
  assert.equal(again.code, 1, 'a conflict fails the run');
  assert.match(again.stderr, /RestoreConflictError: the target already holds .*--overwrite/);
  assert.equal(cli('status', 'no-such-workflow').code, 5);
});

test('encrypted backups through the CLI: the key is a file reference, a wrong or missing key is refused', async () => {
  const src = await tempDir('cli-src');
  await generateTree(src);
  const keys = await tempDir('cli-keys');
  const key = join(keys, 'backup.key');
  const wrong = join(keys, 'wrong.key');
  await writeFile(key, randomBytes(32).toString('hex'), { mode: 0o600 });
  await writeFile(wrong, randomBytes(32).toString('hex'), { mode: 0o600 });
  const b = cli('--json', 'backup', 'fs', src, '--name', 'cli-enc', '--key-file', key, '--limit', '100MiB');
  assert.equal(b.code, 0, b.stderr);
  const l = cli('list', '--name', 'cli-enc');
  assert.match(l.stdout, /\byes\b/, 'listed as encrypted');
  const noKey = cli('restore', 'fs', '--name', 'cli-enc', '--target', join(await tempDir('d'), 'x'));
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /is encrypted: give its key/);
  const bad = cli('restore', 'fs', '--name', 'cli-enc', '--target', join(await tempDir('d'), 'x'), '--key-file', wrong);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /EncryptionKeyMismatchError/);
  const dst = join(await tempDir('d'), 'x');
  const ok = cli('restore', 'fs', '--name', 'cli-enc', '--target', dst, '--key-file', key);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(await diffTrees(src, dst), []);
  const keyHex = (await readFile(key, 'utf8')).trim();
  const history = await countRunsWithText(keyHex);
  assert.equal(history, 0, 'the key never appears in any workflow history');
});

test('invalid OpenStack requests exit 2 before any workflow starts, each with its reason', async () => {
  const before = await countAllRuns();
  const ts = '20261126T163400.123Z';
  const cases: [string[], RegExp][] = [
    [['backup', 'volume', '../../v3/x', '--compression', 'zstd', '--segment-size', '1k', '--wait-timeout', 'volume=forever'], /invalid input:\n {2}- volume id .* is not an OpenStack id.*\n {2}- --wait-timeout volume must be a duration.*\n {2}- segment size/],
    [['backup', 'volumes', '--concurrency', '4'], /say which volumes: volume ids, --project .* or --all-tenants/],
    [['backup', 'volumes', '--project', '--all-tenants'], /give only one of/],
    [['restore', 'volume', `image_cirros/${ts}`], /is an image backup: restore it with `permafrost restore image`/],
    [['restore', 'volume', 'x', '--timestamp', ts, '--from-date', '2026-11-01'], /not both/],
    [['restore', 'image', 'x', '--from-date', 'yesterday'], /--from-date "yesterday" is not an ISO 8601 date/],
    [['backup', 'volume-native', 'v1', '--keep', '0'], /--keep must be a whole number of at least 1/],
    [['restore', 'volume-native', 'a/b'], /Cinder backup id "a\/b" is not an OpenStack id/],
    [['sweep', '--grace', '10s'], /--grace must be at least 1m/],
    [['sweep', '--schedule', '1m'], /--schedule must be at least 5m/],
    [['backup', 'image', 'i1', '--os-interface', 'private'], /Allowed choices are public, internal, admin/],
  ];
  for (const [args, reason] of cases) {
    const r = cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, reason, args.join(' '));
  }
  assert.equal(await countAllRuns(), before, 'no workflow was started');
});

test('sweep --schedule creates the schedule permafrost-sweep-<node>, and updates it when run again', async () => {
  const scheduleId = `permafrost-sweep-${node}`;
  const client = await PermafrostClient.connect(loadConfig({ address: testServerAddress(), node }, {}));
  try {
    const created = cli('sweep', '--schedule', '1h', '--grace', '2h', '--os-cloud', 'lab-demo');
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`schedule ${scheduleId} created: sweep every 1h`));
    let d = await client.temporal.schedule.getHandle(scheduleId).describe();
    assert.equal(d.action.workflowType, 'sweepOrphans');
    assert.equal(d.action.taskQueue, 'permafrost-central');
    assert.equal(d.policies.overlap, 'SKIP');
    assert.deepEqual(d.spec.intervals?.map((i) => i.every), [3_600_000]);
    assert.deepEqual(d.action.args, [{ node, cloud: 'lab-demo', graceMs: 7_200_000, dryRun: false, allTenants: false }]);

    const updated = cli('--json', 'sweep', '--schedule', '30m', '--dry-run', '--all-tenants', '--os-cloud', 'lab-admin');
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal((JSON.parse(updated.stdout) as { created: boolean }).created, false);
    d = await client.temporal.schedule.getHandle(scheduleId).describe();
    assert.deepEqual(d.spec.intervals?.map((i) => i.every), [1_800_000]);
    assert.equal(d.policies.overlap, 'SKIP');
    assert.deepEqual(d.action.args, [{ node, cloud: 'lab-admin', graceMs: 3_600_000, dryRun: true, allTenants: true }]);
  } finally {
    await client.temporal.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    await client.close();
  }
});

test('the worker stops gracefully on SIGTERM', async () => {
  const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
  worker.kill('SIGTERM');
  assert.equal(await exited, 0, workerLog);
  assert.match(workerLog, /permafrost worker stopped/);
  assert.ok(workerLog.split('\n').filter(Boolean).every((line) => line.startsWith('{')), 'worker logs are JSON lines');
});

/** Workflow histories of this node that contain `text` anywhere (args, results, heartbeats, failures). */
async function countRunsWithText(text: string): Promise<number> {
  const client = await PermafrostClient.connect(loadConfig({ address: testServerAddress(), node }, {}));
  try {
    let found = 0;
    for await (const w of client.temporal.workflow.list({ query: `BackupNode="${node}"` })) {
      const history = await client.temporal.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      if (JSON.stringify(history).includes(text)) found++;
    }
    return found;
  } finally {
    await client.close();
  }
}

/** Every workflow run on the server, whatever its type or node. */
async function countAllRuns(): Promise<number> {
  const client = await PermafrostClient.connect(loadConfig({ address: testServerAddress(), node }, {}));
  try {
    return (await client.temporal.workflow.count()).count;
  } finally {
    await client.close();
  }
}

async function countRuns(): Promise<number> {
  const client = await PermafrostClient.connect(loadConfig({ address: testServerAddress(), node }, {}));
  try {
    return (await client.temporal.workflow.count(`BackupNode="${node}"`)).count;
  } finally {
    await client.close();
  }
}
