/** A filesystem backup and restore through the real dev server and real workers, compared byte for byte. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { describeFailure } from '../../client';
import { BackupKind, BackupName, BackupNode, BackupResource } from '../../workflows/shared/search-attributes';
import type { BackupFsResult } from '../../workflows/shared/types';
import { activityTypes, startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';
import { diffTrees, generateTree, listFiles, tempDir } from '../helpers/tree';

let env: TestEnv;
let src: string;
let backup: BackupFsResult;
let backupWorkflowId: string;

before(async () => {
  env = await startTestEnv();
  src = await tempDir('src');
  await generateTree(src, { bigFileBytes: 50 * 1024 * 1024 });
});
after(async () => env.shutdown());

test('backup: a tree with a 50 MB file, symlinks, unicode names and modes is committed', async () => {
  const handle = await env.client.startBackupFs({ paths: [src], name: 'roundtrip', segmentSize: '8MiB' });
  backupWorkflowId = handle.workflowId;
  backup = await handle.result();
  assert.equal(backup.ref.host, env.node);
  assert.ok(backup.stats.segments >= 2, `${backup.stats.segments} segments`);
  assert.ok(backup.stats.bytes > 50 * 1024 * 1024);
  assert.deepEqual(backup.warnings, []);

  const listed = await env.client.listBackups({ name: 'roundtrip' });
  assert.deepEqual(listed.map((b) => b.ref), [backup.ref]);
  assert.equal(listed[0]!.stats.segments, backup.stats.segments);
});

test('the run is readable in Temporal: step names and search attributes', async () => {
  assert.deepEqual(await activityTypes(env.client, backupWorkflowId), ['planFsBackup', 'backupFilesystem', 'discardUncommittedBackup']);
  const d = await env.client.temporal.workflow.getHandle(backupWorkflowId).describe();
  assert.equal(d.typedSearchAttributes.get(BackupKind), 'fs');
  assert.equal(d.typedSearchAttributes.get(BackupNode), env.node);
  assert.equal(d.typedSearchAttributes.get(BackupName), 'roundtrip');
  assert.equal(d.typedSearchAttributes.get(BackupResource), src);
  const found = [];
  for await (const w of env.client.temporal.workflow.list({ query: `BackupNode="${env.node}" AND BackupKind="fs"` })) found.push(w.workflowId);
  assert.deepEqual(found, [backupWorkflowId]);
});

test('restore: every byte, mode, mtime and link target comes back', async () => {
  const dst = join(await tempDir('dst'), 'new-folder');
  const result = await env.client.restoreFs({ name: 'roundtrip', target: dst });
  assert.deepEqual(result.ref, backup.ref);
  assert.deepEqual(await diffTrees(src, dst), []);
  assert.ok(!(await listFiles(dst)).some((f) => f.includes('.permafrost-restore-')), 'no staging left');
});

test('restore refuses to overwrite existing files unless asked, and changes nothing when it refuses', async () => {
  const dst = await tempDir('dst');
  await writeFile(join(dst, 'empty.txt'), 'mine');
  const handle = await env.client.startRestoreFs({ name: 'roundtrip', target: dst });
  await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError && /RestoreConflictError.*empty\.txt/.test(describeFailure(e)));
  assert.deepEqual(await listFiles(dst), ['empty.txt']);
  assert.equal(await readFile(join(dst, 'empty.txt'), 'utf8'), 'mine');
  assert.deepEqual(await activityTypes(env.client, handle.workflowId), ['selectBackup', 'planRestore', 'restoreFilesystem', 'discardRestoreStaging']);

  await env.client.restoreFs({ name: 'roundtrip', target: dst, overwrite: true });
  assert.deepEqual(await diffTrees(src, dst), []);
});

test('restore from a date before the first backup fails clearly', async () => {
  const handle = await env.client.startRestoreFs({ name: 'roundtrip', target: await tempDir('dst'), fromDate: '2001-01-01T00:00:00Z' });
  await assert.rejects(handle.result(), (e: unknown) => /NoBackupFoundError: .*no backup at or before 2001-01-01T00:00:00.000Z; the oldest is/.test(describeFailure(e)));
});

test('a second backup is selected by default; --from-date between them selects the first', async () => {
  await writeFile(join(src, 'added-later.txt'), 'later');
  const second = await env.client.backupFs({ paths: [src], name: 'roundtrip', compression: 'gzip' });
  const newest = join(await tempDir('dst'), 'n');
  await env.client.restoreFs({ name: 'roundtrip', target: newest });
  assert.equal(await readFile(join(newest, 'added-later.txt'), 'utf8'), 'later');
  const between = new Date(Date.parse(second.ref.timestamp.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})/, '$1-$2-$3T$4:$5:$6')) - 1).toISOString();
  const older = join(await tempDir('dst'), 'o');
  const r = await env.client.restoreFs({ name: 'roundtrip', target: older, fromDate: between });
  assert.deepEqual(r.ref, backup.ref);
  assert.ok(!(await listFiles(older)).includes('added-later.txt'));
});
