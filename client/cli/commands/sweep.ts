/** `permafrost sweep`: removes OpenStack temporaries whose workflow no longer runs, once or on a schedule. */
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { PermafrostClient } from '../../index';
import type { SweepRequest } from '../../validate-openstack';
import type { SweepSchedule } from '../../openstack';
import { formatDuration } from '../../../workflows/shared/retention';
import type { SweepResult } from '../../../workflows/shared/openstack-types';
import { addPlaceOptions, EXIT_HELP, placeOf } from '../flags';
import type { PlaceFlags } from '../flags';
import { follow } from '../follow';
import type { Output } from '../output/output';
import type { Runner } from './volume';

export function formatSweepResult(r: SweepResult, tty = process.stdout.isTTY): string {
  const key = (x: { kind: string; id: string }): string => `${x.kind}:${x.id}`;
  const deleted = new Set(r.deleted.map(key));
  const skipped = new Map(r.skipped.map((s) => [key(s), s.reason]));
  const table = new Table({ head: ['kind', 'id', 'name', 'workflow', 'created', 'action'], style: tty ? undefined : { head: [], border: [] } });
  for (const f of r.found) {
    const action = deleted.has(key(f)) ? 'DELETED' : skipped.has(key(f)) ? `KEPT: ${skipped.get(key(f))}` : r.dryRun ? 'DELETE (dry run)' : 'NOT DELETED';
    table.push([f.kind, f.id, f.name, f.workflowId, f.createdAt, action]);
  }
  return [
    r.dryRun ? 'orphaned temporaries (dry run, nothing deleted):' : 'orphan sweep:',
    r.found.length > 0 ? table.toString() : '(no orphaned temporaries)',
    `${r.found.length} found${r.dryRun ? '' : `, ${r.deleted.length} deleted`}${r.skipped.length > 0 ? `, ${r.skipped.length} kept` : ''}`,
  ].join('\n');
}

export function formatSweepSchedule(s: SweepSchedule): string {
  const i = s.input;
  return [
    `schedule ${s.scheduleId} ${s.created ? 'created' : 'updated'}: sweep every ${formatDuration(s.everyMs)} (a sweep still running is not doubled)`,
    `  node ${i.node}${i.cloud ? `, cloud ${i.cloud}` : ''}, grace ${formatDuration(i.graceMs ?? 0)}${i.allTenants ? ', every project' : ''}${i.dryRun ? ', dry run' : ''}`,
  ].join('\n');
}

export async function runSweep(client: PermafrostClient, req: SweepRequest & { schedule?: string }, out: Output): Promise<void> {
  if (req.schedule !== undefined) {
    const { schedule, ...rest } = req;
    const s = await client.scheduleSweep({ ...rest, every: schedule });
    return out.result(s, formatSweepSchedule(s));
  }
  const handle = await client.startSweep(req);
  const r = await follow<SweepResult>(client, handle, { json: out.json, label: 'sweep' });
  out.result({ workflowId: handle.workflowId, ...r }, formatSweepResult(r));
}

export function addSweepCommand(program: Command, run: Runner): void {
  addPlaceOptions(
    program
      .command('sweep')
      .description('delete OpenStack temporaries (snapshots, volumes, images, Cinder backups) permafrost left behind whose workflow no longer runs')
      .option('--grace <duration>', 'only temporaries created longer ago than this (at least 1m)', '1h')
      .option('--dry-run', 'list what would be deleted and delete nothing')
      .option('--all-tenants', 'every project (admin credentials)')
      .option('--schedule <interval>', 'instead of sweeping now, create or update the schedule permafrost-sweep-<node> that sweeps every interval (at least 5m)')
  )
    .addHelpText('after', EXIT_HELP)
    .action(async (o: PlaceFlags & { grace: string; dryRun?: boolean; allTenants?: boolean; schedule?: string }) => {
      await run((client, out) => runSweep(client, { ...placeOf(o), grace: o.grace, dryRun: o.dryRun, allTenants: o.allTenants, schedule: o.schedule }, out));
    });
}
