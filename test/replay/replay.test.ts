/** Every recorded history replays against today's workflow bundle: workflow changes stay deterministic. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_PATH } from '../../workers/build-workflow-bundle';

const DIR = join(__dirname, '..', '..', '..', 'test', 'replay', 'histories');

test('recorded histories exist for every workflow type', async () => {
  const files = await readdir(DIR);
  for (const kind of ['backup-fs', 'backup-fs-cancelled', 'restore-fs', 'restore-fs-conflict', 'list-backups', 'verify-backup', 'storage-info', 'prune-backups', 'collect-garbage', 'backup-volume', 'restore-volume', 'backup-image', 'restore-image', 'backup-server', 'restore-server']) {
    assert.ok(files.some((f) => f.endsWith(`-${kind}.json`)), `no history for ${kind}`);
  }
});

test('histories replay without nondeterminism', async () => {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.json')).sort();
  for (const file of files) {
    const history: unknown = JSON.parse(await readFile(join(DIR, file), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } }, history, file);
  }
});
