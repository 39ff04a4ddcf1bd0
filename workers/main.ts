#!/usr/bin/env node
/**
 * permafrost-worker: runs the central worker (workflows), the node worker (permafrost-node-<host>), or both (the
 * embedded default). SIGINT/SIGTERM stop polling, let running activities finish for a grace period, then exit.
 */
import { Command, Option } from 'commander';
import { Runtime } from '@temporalio/worker';
import { loadConfig } from '../client/config';
import { createLogger, PinoTemporalLogger } from './logger';
import { createWorkers } from './workers';
import type { WorkerRole } from './workers';

async function main(argv: string[]): Promise<void> {
  const program = new Command('permafrost-worker')
    .description('Run permafrost workers')
    .addOption(new Option('--role <role>', 'which worker to run').choices(['all', 'central', 'node']).default('all'))
    .option('--node <name>', 'node name (default: PERMAFROST_NODE or the host name)')
    .option('--task-queue <queue>', 'node task queue (default: permafrost-node-<node>)')
    .option('--address <host:port>', 'Temporal frontend (default: TEMPORAL_ADDRESS or 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (default: TEMPORAL_NAMESPACE or default)')
    .option('--log-level <level>', 'trace, debug, info, warn or error')
    .parse(argv);
  const opts = program.opts<{ role: string; node?: string; taskQueue?: string; address?: string; namespace?: string; logLevel?: string }>();
  const config = loadConfig(opts);
  const logger = createLogger(config.logLevel);
  Runtime.install({ logger: new PinoTemporalLogger(logger), shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const roles: WorkerRole[] = opts.role === 'all' ? ['central', 'node'] : [opts.role as WorkerRole];
  const running = await createWorkers(config, roles);
  logger.info(
    { roles, node: config.node, nodeTaskQueue: roles.includes('node') ? config.nodeTaskQueue : undefined, address: config.temporal.address, namespace: config.temporal.namespace },
    'permafrost worker started'
  );
  await running.run;
  await running.connection.close();
  logger.info('permafrost worker stopped');
}

main(process.argv).catch((err: unknown) => {
  console.error(`permafrost-worker: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
