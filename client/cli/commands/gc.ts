import Table from 'cli-table3';
import type { PermafrostClient } from '../../index';
import type { GcRequest } from '../../validate';
import { formatDuration } from '../../../workflows/shared/retention';
import type { CollectGarbageResult } from '../../../workflows/shared/types';
import { formatBytes } from '../output/format';
import type { Output } from '../output/output';

export function formatGcResult(r: CollectGarbageResult, tty = process.stdout.isTTY): string {
  const removed = new Set(r.removed.map((f) => `${f.ref.host}_${f.ref.name}/${f.ref.timestamp}`));
  const skipped = new Map(r.skipped.map((s) => [`${s.ref.host}_${s.ref.name}/${s.ref.timestamp}`, s.reason]));
  const table = new Table({
    head: ['uncommitted folder', 'objects', 'temp files', 'size', 'action'],
    style: tty ? undefined : { head: [], border: [] },
  });
  for (const f of r.found) {
    const id = `${f.ref.host}_${f.ref.name}/${f.ref.timestamp}`;
    const action = r.dryRun ? 'REMOVE' : removed.has(id) ? 'REMOVED' : skipped.has(id) ? `KEPT: ${skipped.get(id)}` : 'NOT REMOVED';
    table.push([id, String(f.objects), String(f.temporary), formatBytes(f.bytes), action]);
  }
  const bytes = r.found.reduce((n, f) => n + f.bytes, 0);
  const objects = r.found.reduce((n, f) => n + f.objects, 0);
  return [
    `${r.dryRun ? 'garbage (dry run, nothing removed)' : 'garbage collected'}: ${r.storage}`,
    `folders without a manifest taken before ${r.cutoff} (grace ${formatDuration(r.graceMs)}); committed backups are never touched`,
    r.found.length > 0 ? table.toString() : '(no uncommitted data older than the grace period)',
    `${r.found.length} folders, ${objects} objects, ${formatBytes(bytes)}${r.dryRun ? '' : `: ${r.removed.length} removed`}${r.skipped.length > 0 ? `, ${r.skipped.length} kept` : ''}`,
  ].join('\n');
}

export async function runGc(client: PermafrostClient, req: GcRequest, out: Output): Promise<void> {
  const handle = await client.startCollectGarbage(req);
  if (!out.json) process.stderr.write(`gc: workflow ${handle.workflowId} started\n`);
  const r = await handle.result();
  out.result({ workflowId: handle.workflowId, ...r }, formatGcResult(r));
}
