/** Integration tests: real workers against the real dev server that scripts/test.sh started. */
import { randomBytes } from 'node:crypto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { PermafrostClient } from '../../client';
import { loadConfig } from '../../client/config';
import type { PermafrostConfig } from '../../client/config';
import { createWorkers } from '../../workers/workers';
import type { RunningWorkers, WorkerExtras, WorkerRole } from '../../workers/workers';
import { tempDir } from './tree';

export function testServerAddress(): string {
  const address = process.env.PERMAFROST_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('PERMAFROST_TEST_TEMPORAL_ADDRESS is not set: run integration tests through `npm test` (scripts/test.sh)');
  return address;
}

let runtimeInstalled = false;

/** Expected activity failures would otherwise be logged as SDK warnings in the test output. */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

export interface TestEnv {
  config: PermafrostConfig;
  client: PermafrostClient;
  node: string;
  storageDir: string;
  storage: string;
  workers?: RunningWorkers;
  shutdown(): Promise<void>;
}

/** A unique node (so its own task queue) with local storage in a temp folder, plus workers unless `roles` is empty. */
export async function startTestEnv(roles: readonly WorkerRole[] = ['central', 'node'], extras: WorkerExtras = {}): Promise<TestEnv> {
  quietRuntime();
  const node = `t-${randomBytes(4).toString('hex')}`;
  const storageDir = await tempDir('storage');
  const storage = `local:${storageDir}`;
  const config = loadConfig({ address: testServerAddress(), node, storage, dataDir: storageDir, logLevel: 'warn' }, {});
  const workers = roles.length > 0 ? await createWorkers(config, roles, extras) : undefined;
  const client = await PermafrostClient.connect(config);
  return {
    config,
    client,
    node,
    storageDir,
    storage,
    workers,
    async shutdown() {
      await client.close();
      await workers?.shutdown();
    },
  };
}

/** Activity types of a run's history, in order: what the UI shows as its steps. */
export async function activityTypes(client: PermafrostClient, workflowId: string): Promise<string[]> {
  const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
}
