/**
 * The fault matrix runner: start a workflow with one step armed to fail (or to hold until cancelled), then check
 * that nothing the run created is left in OpenStack and no uncommitted data in the storage.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { CENTRAL_TASK_QUEUE } from '../../workflows/shared/queues';
import type { FaultInjector, FaultPlan } from './faults';
import { leftoversOf } from './lab';
import type { InventoryItem } from './lab';
import type { TestEnv } from './temporal';

export interface FaultCase {
  label: string;
  plan: Omit<FaultPlan, 'mode'>;
  /** An undo step: its failure is transient (retried), and a cancel does not reach it. */
  undo?: boolean;
}

/** Backup folders in a local storage without a manifest. */
export async function uncommittedIn(storageDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const group of await readdir(storageDir)) {
    const dir = join(storageDir, group);
    if (!(await stat(dir)).isDirectory()) continue;
    for (const ts of await readdir(dir)) {
      if (!(await readdir(join(dir, ts))).includes('manifest.json')) out.push(`${group}/${ts}`);
    }
  }
  return out;
}

export class FaultMatrix {
  private run = 0;
  /** Workflow ids unique to this process: leftovers of an earlier run (another server) never count as ours. */
  private readonly runId = randomBytes(3).toString('hex');

  constructor(
    private readonly env: TestEnv,
    private readonly lab: OpenStackClients,
    private readonly faults: FaultInjector
  ) {}

  /**
   * Runs `workflow(input)` with the fault of `c` (`fail`, or `cancel` while in the step). A main step must fail
   * the run; an undo step's transient failure is retried. `kept` names what a run that completed may leave (its
   * product: a restored volume or server); everything else it created must be gone.
   */
  async exercise(workflow: string, input: unknown, c: FaultCase, mode: 'fail' | 'cancel', kept: (result: unknown) => Promise<string[]> = async () => []): Promise<void> {
    const { env, faults } = this;
    const workflowId = `faults-${workflow}-${++this.run}-${c.plan.activity}-${mode}-${this.runId}`;
    faults.arm({ ...c.plan, mode: mode === 'cancel' ? 'hold' : c.undo ? 'fail-once' : 'fail' });
    const handle = await env.client.temporal.workflow.start(workflow, { taskQueue: CENTRAL_TASK_QUEUE, workflowId, args: [input] });
    let outcome: 'completed' | 'failed';
    let result: unknown;
    try {
      if (mode === 'cancel') {
        await faults.reached;
        await handle.cancel();
        if (c.undo) setTimeout(() => faults.release(), 300);
      }
      result = await handle.result();
      outcome = 'completed';
    } catch (err) {
      assert.ok(err instanceof WorkflowFailedError, String(err));
      outcome = 'failed';
    } finally {
      faults.disarm();
    }
    assert.equal(faults.hits, 1, `the fault was injected once in ${c.label}`);
    if (!c.undo) assert.equal(outcome, 'failed', `${workflow} must fail when ${c.label} ${mode === 'cancel' ? 'is cancelled' : 'fails'}`);
    const keep = outcome === 'completed' ? new Set(await kept(result)) : new Set<string>();
    const left: InventoryItem[] = (await leftoversOf(this.lab, workflowId)).filter((r) => !keep.has(r.id));
    assert.deepEqual(left, [], `nothing of ${workflowId} is left`);
    assert.deepEqual(await uncommittedIn(env.storageDir), [], 'no uncommitted data in the storage');
  }
}
