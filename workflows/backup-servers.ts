import { upsertSearchAttributes } from '@temporalio/workflow';
import { backupServer } from './backup-server';
import { nodeActivities } from './node-activities';
import { runChildren } from './scoped';
import { placeOf } from './shared/openstack-place';
import type { BackupServersInput, BackupServersResult } from './shared/openstack-types';
import { BackupKind, BackupNode, BackupResource } from './shared/search-attributes';

/** Backs up many servers as child workflows, `concurrency` at a time; the result reports every server. */
export async function backupServers(input: BackupServersInput): Promise<BackupServersResult> {
  upsertSearchAttributes([
    { key: BackupKind, value: 'servers' },
    { key: BackupNode, value: input.node },
    { key: BackupResource, value: input.scope.kind === 'list' ? input.scope.serverIds.join(',') : input.scope.kind },
  ]);
  const node = nodeActivities(input.node);
  const { scope, concurrency, ...rest } = input;
  const ids = await node.listServerIds.executeWithOptions({ summary: `list servers (${scope.kind})` }, [{ ...placeOf(input), scope }]);
  const servers = await runChildren(ids, concurrency ?? 2, backupServer, (serverId) => ({ ...rest, serverId }));
  const failed = servers.filter((o) => !o.ok).length;
  return { total: servers.length, succeeded: servers.length - failed, failed, servers };
}
