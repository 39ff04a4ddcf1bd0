import Table from 'cli-table3';
import type { PermafrostClient } from '../../index';
import { formatBytes } from '../output/format';
import type { Output } from '../output/output';

export async function runInfo(client: PermafrostClient, opts: { node?: string; storage?: string }, out: Output): Promise<void> {
  const info = await client.storageInfo(opts);
  const table = new Table({
    head: ['backup', 'backups', 'size', 'stored', 'segments', 'oldest', 'newest'],
    style: process.stdout.isTTY ? undefined : { head: [], border: [] },
  });
  for (const g of info.groups) {
    table.push([`${g.host}_${g.name}`, String(g.backups), formatBytes(g.bytes), formatBytes(g.storedBytes), String(g.segments), g.oldest, g.newest]);
  }
  const t = info.totals;
  out.result(info, `${info.storage}: ${t.backups} backups, ${formatBytes(t.bytes)} of data, ${formatBytes(t.storedBytes)} stored in ${t.segments} segments\n${table.toString()}`);
}
