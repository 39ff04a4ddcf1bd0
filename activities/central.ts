/**
 * Activities of the central worker (task queue `permafrost-central`): questions for Temporal itself, which only the
 * central worker is connected to as a client. Node workers need no Temporal client.
 */
import { heartbeat } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { withFailureMapping } from './failures';

export interface CentralActivityDeps {
  /** A client of the namespace the workers serve. */
  client: Client;
}

export interface CentralActivities {
  /** Which of these workflow ids have a running execution (latest run RUNNING); an unknown id is not running. */
  runningWorkflows(ids: string[]): Promise<string[]>;
}

/** Describes at most this many workflows at once. */
const CONCURRENCY = 8;

export function createCentralActivities(deps: CentralActivityDeps): CentralActivities {
  return withFailureMapping({
    async runningWorkflows(ids: string[]): Promise<string[]> {
      const unique = [...new Set(ids)];
      const running = new Set<string>();
      for (let i = 0; i < unique.length; i += CONCURRENCY) {
        const batch = unique.slice(i, i + CONCURRENCY);
        await Promise.all(
          batch.map(async (id) => {
            try {
              const d = await deps.client.workflow.getHandle(id).describe();
              if (d.status.name === 'RUNNING') running.add(id);
            } catch (err) {
              if (!(err instanceof WorkflowNotFoundError)) throw err;
            }
          })
        );
        heartbeat({ described: Math.min(i + CONCURRENCY, unique.length), of: unique.length });
      }
      return unique.filter((id) => running.has(id));
    },
  });
}
