/**
 * Records the replay histories of the retention workflows only (`node dist/test/replay/record-retention.js v2`
 * against a dev server: TEMPORAL_ADDRESS or PERMAFROST_TEST_TEMPORAL_ADDRESS): a prune that deletes a chain
 * (`<version>-prune-backups.json`) and a GC that removes a crashed backup's folder (`<version>-collect-garbage.json`).
 * The other histories are left alone (test/replay/record.ts records those).
 */
import { LocalStorage } from '../../activities/storage/local';
import { startTestEnv } from '../helpers/temporal';
import { saveHistory } from './save-history';
import { ago, plantBackup } from '../helpers/plant';


async function main(): Promise<void> {
  process.env.PERMAFROST_TEST_TEMPORAL_ADDRESS ??= process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const env = await startTestEnv();
  const version = process.argv[2] ?? 'v2';
  const save = (label: string, workflowId: string): Promise<void> => saveHistory(env.config.temporal.address, version, label, workflowId);
  try {
    const storage = new LocalStorage(env.storageDir);
    const ref = (timestamp: string) => ({ host: env.node, name: 'replay', timestamp });
    const now = Date.now();
    const [a0, a1, b0, b1] = [ago(40, now), ago(39, now), ago(35, now), ago(1, now)];
    await plantBackup(storage, ref(a0));
    await plantBackup(storage, ref(a1), { level: 1, chain: a0, parent: a0 });
    await plantBackup(storage, ref(b0));
    await plantBackup(storage, ref(b1), { level: 1, chain: b0, parent: b0 });
    const prune = await env.client.startPruneBackups({ name: 'replay', olderThan: '30d' });
    const pruned = await prune.result();
    if (pruned.deleted.length !== 2) throw new Error(`expected 2 deletions, got ${JSON.stringify(pruned.deleted)}`);
    await save('prune-backups', prune.workflowId);

    await plantBackup(storage, ref(ago(3, now)), { uncommitted: true });
    const gc = await env.client.startCollectGarbage({ grace: '24h' });
    const collected = await gc.result();
    if (collected.removed.length !== 1) throw new Error(`expected 1 removed folder, got ${JSON.stringify(collected.removed)}`);
    await save('collect-garbage', gc.workflowId);
  } finally {
    await env.shutdown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
