/** Composition root of the workers: builds dependencies once, then the central and/or node worker. */
import { existsSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { createNodeActivities } from '../activities';
import { createCentralActivities } from '../activities/central';
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

export interface WorkerExtras {
  /** Activity interceptors of the node worker (tests inject faults with them). */
  activityInterceptors?: NonNullable<WorkerOptions['interceptors']>['activity'];
}

export async function createWorkers(config: PermafrostConfig, roles: readonly WorkerRole[], extras: WorkerExtras = {}): Promise<RunningWorkers> {
  const connection = await NativeConnection.connect(connectOptions(config));
  const common = { connection, namespace: config.temporal.namespace, shutdownGraceTime: '20s' } as const;
  const workers: Worker[] = [];
  // The central activities ask Temporal itself (is a workflow still running?): a client of the same namespace.
  let clientConnection: Connection | undefined;
  try {
    if (roles.includes('central')) {
      clientConnection = await Connection.connect(connectOptions(config));
      const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
      workers.push(await Worker.create({ ...common, taskQueue: CENTRAL_TASK_QUEUE, activities: createCentralActivities({ client }), ...workflowSource() }));
    }
    if (roles.includes('node')) {
      workers.push(
        await Worker.create({
          ...common,
          taskQueue: config.nodeTaskQueue,
          activities: createNodeActivities({ openStorage }),
          ...(extras.activityInterceptors ? { interceptors: { activity: extras.activityInterceptors } } : {}),
          maxConcurrentActivityTaskExecutions: 8,
          // Heartbeats carry the progress the CLI and UI show; the SDK would otherwise send them ~once a minute.
          maxHeartbeatThrottleInterval: '1s',
          defaultHeartbeatThrottleInterval: '1s',
        })
      );
    }
  } catch (err) {
    await clientConnection?.close();
    await connection.close();
    throw err;
  }
  const run = Promise.all(workers.map((w) => w.run()))
    .then(() => undefined)
    .finally(() => clientConnection?.close().catch(() => undefined));
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
