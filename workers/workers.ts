/** Composition root of the workers: builds dependencies once, then the central and/or node worker. */
import { existsSync } from 'node:fs';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { createNodeActivities } from '../activities';
import { openStorage } from '../activities/storage/registry';
import type { PermafrostConfig } from '../client/config';
import { connectOptions } from '../client/connection';
import { CENTRAL_TASK_QUEUE } from '../workflows/shared/queues';
import { WORKFLOW_BUNDLE_PATH } from './build-workflow-bundle';

export type WorkerRole = 'central' | 'node';

export interface RunningWorkers {
  workers: Worker[];
  connection: NativeConnection;
  /** Resolves when every worker has stopped (after shutdown() or a fatal error). */
  run: Promise<void>;
  shutdown(): Promise<void>;
}

/** Workflow code: the prebuilt bundle when `npm run build` made one, else bundled from source at start. */
function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (existsSync(WORKFLOW_BUNDLE_PATH)) return { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } };
  return { workflowsPath: require.resolve('../workflows') };
}

export async function createWorkers(config: PermafrostConfig, roles: readonly WorkerRole[]): Promise<RunningWorkers> {
  const connection = await NativeConnection.connect(connectOptions(config));
  const common = { connection, namespace: config.temporal.namespace, shutdownGraceTime: '20s' } as const;
  const workers: Worker[] = [];
  try {
    if (roles.includes('central')) {
      workers.push(await Worker.create({ ...common, taskQueue: CENTRAL_TASK_QUEUE, ...workflowSource() }));
    }
    if (roles.includes('node')) {
      workers.push(
        await Worker.create({
          ...common,
          taskQueue: config.nodeTaskQueue,
          activities: createNodeActivities({ openStorage }),
          maxConcurrentActivityTaskExecutions: 8,
          // Heartbeats carry the progress the CLI and UI show; the SDK would otherwise send them ~once a minute.
          maxHeartbeatThrottleInterval: '1s',
          defaultHeartbeatThrottleInterval: '1s',
        })
      );
    }
  } catch (err) {
    await connection.close();
    throw err;
  }
  const run = Promise.all(workers.map((w) => w.run())).then(() => undefined);
  return {
    workers,
    connection,
    run,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await run.catch(() => undefined);
      await connection.close();
    },
  };
}
