import type { PermafrostClient } from '../../index';
import type { BackupFsRequest } from '../../validate';
import type { BackupFsResult } from '../../../workflows/shared/types';
import { follow } from '../follow';
import { formatBytes } from '../output/format';
import type { Output } from '../output/output';

export interface BackupFsOptions extends Omit<BackupFsRequest, 'paths'> {
  wait: boolean;
}

export async function runBackupFs(client: PermafrostClient, paths: string[], opts: BackupFsOptions, out: Output): Promise<void> {
  const handle = await client.startBackupFs({ ...opts, paths });
  if (!opts.wait) return out.result({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId }, `started ${handle.workflowId}`);
  const r = await follow<BackupFsResult>(client, handle, { json: out.json, label: 'backup' });
  const s = r.stats;
  out.result(
    { workflowId: handle.workflowId, ...r },
    [
      `backup ${r.ref.host}_${r.ref.name}/${r.ref.timestamp} committed`,
      `  ${s.files} files, ${s.dirs} folders, ${s.symlinks} symlinks, ${s.hardlinks} hard links, ${formatBytes(s.bytes)} read; ` +
        `${formatBytes(s.storedBytes)} stored in ${s.segments} segments`,
      ...r.targets.map((t) => `  ${t.committed ? 'committed on' : 'FAILED on'} ${t.storage}${t.error ? `: ${t.error}` : ''}`),
      ...r.warnings.map((w) => `  warning: ${w}`),
    ].join('\n')
  );
}
