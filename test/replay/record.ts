/**
 * Records histories of the released workflows for the replay tier: `npm run record-histories` against a dev server
 * (TEMPORAL_ADDRESS or PERMAFROST_TEST_TEMPORAL_ADDRESS). Re-record only for a new workflow version; older histories
 * stay, so that every version still replays (a change that breaks them needs `patched()`).
 */
import { join } from 'node:path';
import { generateTree, tempDir, writeRandomFile } from '../helpers/tree';
import { startTestEnv } from '../helpers/temporal';
import { saveHistory } from './save-history';


async function main(): Promise<void> {
  process.env.PERMAFROST_TEST_TEMPORAL_ADDRESS ??= process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const env = await startTestEnv();
  const version = process.argv[2] ?? 'v1';
  const save = (label: string, workflowId: string): Promise<void> => saveHistory(env.config.temporal.address, version, label, workflowId);
  try {
    const src = await tempDir('record');
    await generateTree(src);
    const backup = await env.client.startBackupFs({ paths: [src], name: 'replay' });
    await backup.result();
    await save('backup-fs', backup.workflowId);

    const target = await tempDir('record-dst');
    const restore = await env.client.startRestoreFs({ name: 'replay', target });
    await restore.result();
    await save('restore-fs', restore.workflowId);

    const conflict = await env.client.startRestoreFs({ name: 'replay', target });
    await conflict.result().catch(() => undefined);
    await save('restore-fs-conflict', conflict.workflowId);

    await writeRandomFile(join(src, 'big.bin'), 64 * 1024 * 1024);
    const cancelled = await env.client.startBackupFs({ paths: [src], name: 'replay', compression: 'gzip', compressionLevel: 9, segmentSize: '1MiB' });
    for (;;) {
      const s = await env.client.status(cancelled.workflowId);
      if ((s.steps.find((x) => x.step === 'backupFilesystem')?.progress?.segment ?? 0) >= 1) break;
      if (s.status !== 'RUNNING') throw new Error('backup finished before it could be cancelled');
      await new Promise((r) => setTimeout(r, 100));
    }
    await env.client.cancel(cancelled.workflowId);
    await cancelled.result().catch(() => undefined);
    await save('backup-fs-cancelled', cancelled.workflowId);

    const verify = await env.client.startVerifyBackup({ backup: `${env.node}_replay/${(await backup.result()).ref.timestamp}` });
    await verify.result();
    await save('verify-backup', verify.workflowId);

    await env.client.storageInfo();
    for await (const w of env.client.temporal.workflow.list({ query: `WorkflowType="storageInfo" AND WorkflowId STARTS_WITH "storage-info-${env.node}"` })) {
      await save('storage-info', w.workflowId);
      break;
    }

    await env.client.listBackups({ name: 'replay' });
    for await (const w of env.client.temporal.workflow.list({ query: `WorkflowType="listBackups" AND WorkflowId STARTS_WITH "list-backups-${env.node}"` })) {
      await save('list-backups', w.workflowId);
      break;
    }
  } finally {
    await env.shutdown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
