import type { PermafrostClient } from '../../index';
import { backupTable } from '../output/format';
import type { Output } from '../output/output';

export interface ListOptions {
  node?: string;
  storage?: string;
  host?: string;
  name?: string;
}

export async function runList(client: PermafrostClient, opts: ListOptions, out: Output): Promise<void> {
  const backups = await client.listBackups(opts);
  out.result(backups, backups.length === 0 ? 'no committed backups' : backupTable(backups));
}
