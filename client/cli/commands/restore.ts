import type { PermafrostClient } from '../../index';
import type { RestoreFsRequest } from '../../validate';
import type { RestoreFsResult } from '../../../workflows/shared/types';
import { follow } from '../follow';
import { formatBytes, formatPlan } from '../output/format';
import type { Output } from '../output/output';

export interface RestoreFsOptions extends RestoreFsRequest {
  wait: boolean;
}

export async function runRestoreFs(client: PermafrostClient, opts: RestoreFsOptions, out: Output): Promise<void> {
  const handle = await client.startRestoreFs(opts);
  if (!opts.wait) return out.result({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId }, `started ${handle.workflowId}`);
  const plan = await client.restorePlan(handle.workflowId);
  if (plan && !out.json) process.stdout.write(`${formatPlan(plan, opts.dryRun ? 'would apply' : 'applying')}\n`);
  const r = await follow<RestoreFsResult>(client, handle, { json: out.json, label: 'restore' });
  if (r.dryRun) return out.result({ workflowId: handle.workflowId, ...r, plan }, 'dry run: nothing was read or written');
  out.result(
    { workflowId: handle.workflowId, ...r },
    [
      `restored ${r.ref.host}_${r.ref.name}/${r.ref.timestamp} into ${r.target}`,
      `  ${r.files} files, ${r.dirs} folders, ${r.symlinks} symlinks, ${r.hardlinks} hard links, ${formatBytes(r.bytes)} written; every segment verified`,
      ...r.warnings.map((w) => `  warning: ${w}`),
    ].join('\n')
  );
}
