import { workflowInfo } from '@temporalio/workflow';
import { centralActivities } from './central-activities';
import { nodeActivities } from './node-activities';
import { placeOf } from './shared/openstack-place';
import type { SweepInput, SweepResult, SweptResource } from './shared/openstack-types';

/**
 * Removes what permafrost left in OpenStack: temporaries and unfinished restores of workflows that no longer run
 * (terminated, or whose undo gave up). The node lists the candidates (permafrost's evidence, older than the grace
 * period), Temporal says which of their workflows still run (those are left alone: their undo is theirs), and the
 * node deletes the rest in dependency order. A dry run only reports. `found` = `deleted` + `skipped`, except in a dry
 * run, where what would be deleted is in neither.
 */
export async function sweepOrphans(input: SweepInput): Promise<SweepResult> {
  const node = nodeActivities(input.node);
  const central = centralActivities();
  const place = placeOf(input);
  const dryRun = input.dryRun ?? false;
  const allTenants = input.allTenants ?? false;

  const found = await node.findOrphanCandidates.executeWithOptions({ summary: `find permafrost temporaries${allTenants ? ' in every project' : ''}` }, [
    {
      ...place,
      allTenants,
      ...(input.graceMs !== undefined ? { graceMs: input.graceMs } : {}),
      ...(input.workflowIdPrefix !== undefined ? { workflowIdPrefix: input.workflowIdPrefix } : {}),
    },
  ]);
  if (found.length === 0) return { dryRun, found, deleted: [], skipped: [] };

  const ids = [...new Set(found.map((r) => r.workflowId))];
  const running = new Set(await central.runningWorkflows.executeWithOptions({ summary: `which of ${ids.length} workflows still run` }, [ids]));
  // The sweep itself creates nothing, but never judge by its own id.
  running.add(workflowInfo().workflowId);

  const skipped: SweepResult['skipped'] = found.filter((r) => running.has(r.workflowId)).map((r) => ({ ...r, reason: `workflow ${r.workflowId} is still running` }));
  const orphans: SweptResource[] = found.filter((r) => !running.has(r.workflowId));
  if (dryRun || orphans.length === 0) return { dryRun, found, deleted: [], skipped };

  const outcome = await node.deleteOrphans.executeWithOptions({ summary: `delete ${orphans.length} orphaned temporaries` }, [{ ...place, allTenants, resources: orphans }]);
  return { dryRun, found, deleted: outcome.deleted, skipped: [...skipped, ...outcome.skipped] };
}
