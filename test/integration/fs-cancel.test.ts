/** Cancelling a backup mid-stream: the run closes as cancelled, and nothing partial is listed or left on disk. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { activityTypes, startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { listFiles, tempDir, writeRandomFile } from '../helpers/tree';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => env.shutdown());

test('cancel mid-stream leaves no partial backup listed and no temp file behind', async () => {
  const src = await tempDir('src');
  // gzip -9 on incompressible data is slow enough to cancel in the middle of the stream.
  await writeRandomFile(join(src, 'big.bin'), 160 * 1024 * 1024);
  const handle = await env.client.startBackupFs({ paths: [src], name: 'cancelled', compression: 'gzip', compressionLevel: 9, segmentSize: '1MiB' });
  let segment = 0;
  const deadline = Date.now() + 60_000;
  while (segment < 3) {
    assert.ok(Date.now() < deadline, 'the backup never got going');
    const status = await env.client.status(handle.workflowId);
    assert.equal(status.status, 'RUNNING', 'finished before it could be cancelled');
    segment = status.steps.find((s) => s.step === 'backupFilesystem')?.progress?.segment ?? 0;
    if (process.env.DEBUG_TEST) console.log(Date.now(), JSON.stringify(status.steps));
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok((await listFiles(env.storageDir)).length >= 3, 'segments were being written');
  await env.client.cancel(handle.workflowId);

  await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure);
  assert.equal((await env.client.status(handle.workflowId)).status, 'CANCELLED');
  assert.deepEqual(await env.client.listBackups({ name: 'cancelled' }), []);
  assert.deepEqual(await listFiles(env.storageDir), [], 'no segment, manifest or temp file left');
  // The compensation ran even though the run was cancelled.
  assert.deepEqual(await activityTypes(env.client, handle.workflowId), ['planFsBackup', 'backupFilesystem', 'discardUncommittedBackup']);
});
