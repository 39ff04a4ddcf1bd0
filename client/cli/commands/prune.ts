import Table from 'cli-table3';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { PermafrostClient } from '../../index';
import type { PruneRequest } from '../../validate';
import { describePolicy, formatDuration } from '../../../workflows/shared/retention';
import type { PruneBackupsResult } from '../../../workflows/shared/types';
import { formatBytes } from '../output/format';
import type { Output } from '../output/output';

/**
 * The plan as a reader checks it: every backup oldest first with its level, chain and parent, KEEP or DELETE, and
 * every reason. A kept backup's parent is always kept too ("needed by").
 */
export function formatPruneResult(r: PruneBackupsResult, tty = process.stdout.isTTY): string {
  const { plan } = r;
  const group = `${plan.host}_${plan.name}`;
  const deleted = new Set(r.deleted.map((d) => d.timestamp));
  const refused = new Map(r.refused.map((d) => [d.timestamp, d.reason]));
  const rows = [
    ...plan.keep.map((k) => ({ ...k, action: 'KEEP', why: k.reasons.join('; ') })),
    ...plan.delete.map((d) => ({
      ...d,
      action: r.dryRun ? 'DELETE' : deleted.has(d.timestamp) ? 'DELETED' : refused.has(d.timestamp) ? 'REFUSED' : 'NOT DELETED',
      why: refused.has(d.timestamp) ? `${d.reason}; refused: ${refused.get(d.timestamp)}` : d.reason,
    })),
  ].sort((a, b) => (a.timestamp < b.timestamp ? -1 : 1));
  const table = new Table({
    head: ['backup (UTC timestamp)', 'level', 'chain', 'parent', 'stored', 'action', 'reasons'],
    style: tty ? undefined : { head: [], border: [] },
  });
  for (const row of rows) {
    table.push([row.timestamp, String(row.level), row.chain, row.parent ?? '-', formatBytes(row.storedBytes), row.action, row.why]);
  }
  const freed = plan.delete.reduce((n, d) => n + d.storedBytes, 0);
  const head = [
    `${r.dryRun ? 'retention plan (dry run, nothing deleted)' : 'pruned'}: ${group} in ${r.storage}`,
    `policy: ${describePolicy(plan.policy)}; the newest backup and every backup a kept one depends on are always kept`,
    `now: ${plan.now}${plan.cutoff ? `; older than ${formatDuration(plan.policy.olderThanMs ?? 0)} = taken before ${plan.cutoff}` : ''}`,
  ];
  const total = `${rows.length} backups: keep ${plan.keep.length}, ${r.dryRun ? 'delete' : 'deleted'} ${r.dryRun ? plan.delete.length : r.deleted.length} (${formatBytes(freed)} stored)${r.refused.length > 0 ? `, REFUSED ${r.refused.length}` : ''}`;
  return [...head, rows.length > 0 ? table.toString() : '(no committed backups)', total, ...plan.warnings.map((w) => `warning: ${w}`)].join('\n');
}

export async function runPrune(client: PermafrostClient, req: PruneRequest, out: Output): Promise<void> {
  const handle = await client.startPruneBackups(req);
  if (!out.json) process.stderr.write(`prune: workflow ${handle.workflowId} started\n`);
  try {
    const r = await handle.result();
    out.result({ workflowId: handle.workflowId, ...r }, formatPruneResult(r));
  } catch (err) {
    // A partial prune still shows what was and was not deleted, then fails (exit status 1).
    const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === 'PartialPruneError' && cause.details?.[0]) {
      const partial = cause.details[0] as PruneBackupsResult;
      out.result({ workflowId: handle.workflowId, ...partial }, formatPruneResult(partial));
    }
    throw err;
  }
}
