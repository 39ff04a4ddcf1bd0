/**
 * A node worker is killed (SIGKILL) in the middle of an upload and started again: the retried step resumes, so
 * segments stored before the kill are not uploaded again (their files keep their inodes), and the restore is exact.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestEnv, testServerAddress } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { diffTrees, listFiles, tempDir, writeRandomFile } from '../helpers/tree';

const ROOT = join(__dirname, '..', '..', '..');
let env: TestEnv;
let worker: ChildProcess | undefined;

function startNodeWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/workers/main.js'), '--role', 'node', '--node', env.node], {
    env: { ...process.env, TEMPORAL_ADDRESS: testServerAddress() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (log.includes('permafrost worker started')) {
        clearInterval(timer);
        resolve(child);
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`node worker exited:\n${log}`));
      }
    }, 100);
  });
}

async function segmentInodes(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const f of await listFiles(env.storageDir)) {
    if (/\/segments\/\d{8}$/.test(f)) out.set(f, (await stat(join(env.storageDir, f))).ino);
  }
  return out;
}

before(async () => {
  env = await startTestEnv(['central']); // workflows here; the node's activities in a separate process
});
after(async () => {
  worker?.kill('SIGKILL');
  await env.shutdown();
});

test('SIGKILL of the node worker mid-upload: the retry resumes and re-uploads fewer than 2 segments', async () => {
  const src = await tempDir('src');
  await writeRandomFile(join(src, 'big.bin'), 120 * 1024 * 1024);
  worker = await startNodeWorker();
  const handle = await env.client.startBackupFs({ paths: [src], name: 'resume', compression: 'gzip', compressionLevel: 6, segmentSize: '8MiB' });
  const deadline = Date.now() + 120_000;
  for (;;) {
    assert.ok(Date.now() < deadline, 'the upload never got going');
    const s = await env.client.status(handle.workflowId);
    assert.equal(s.status, 'RUNNING', 'finished before the worker could be killed');
    if ((s.steps.find((x) => x.step === 'backupFilesystem')?.progress?.segment ?? 0) >= 4) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  worker.kill('SIGKILL');
  await new Promise((r) => worker!.once('exit', r));
  const beforeKill = await segmentInodes();
  assert.ok(beforeKill.size >= 4, `${beforeKill.size} segments stored before the kill`);

  worker = await startNodeWorker();
  const result = await handle.result();
  const afterRun = await segmentInodes();
  assert.equal(afterRun.size, result.stats.segments);
  const uploadedTwice = [...beforeKill].filter(([f, ino]) => afterRun.get(f) !== ino);
  assert.ok(uploadedTwice.length < 2, `re-uploaded: ${uploadedTwice.map(([f]) => f).join(', ')}`);
  const attempts = (await env.client.temporal.workflow.getHandle(handle.workflowId).fetchHistory()).events?.find(
    (e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt && e.activityTaskStartedEventAttributes.attempt > 1
  );
  assert.ok(attempts, 'the upload step ran a second attempt');

  const dst = join(await tempDir('dst'), 'r');
  await env.client.restoreFs({ name: 'resume', target: dst });
  assert.deepEqual(await diffTrees(src, dst), []);
});
