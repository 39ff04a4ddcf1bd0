import { ActivityFailure, ApplicationFailure, log, upsertSearchAttributes } from '@temporalio/workflow';
import { nodeActivities } from './node-activities';
import { backupId } from './shared/naming';
import { describePolicy, invalidRetentionPolicy, planRetention } from './shared/retention';
import { BackupKind, BackupName, BackupNode, BackupResource } from './shared/search-attributes';
import { formatStorage } from './shared/storage-url';
import type { BackupRef, PruneBackupsInput, PruneBackupsResult } from './shared/types';

/**
 * Applies a retention policy to the backups of one `<host>_<name>`: list -> plan (pure, here in the workflow, so
 * the plan is in the history) -> unless a dry run, delete each planned backup, dependants before what they depend on.
 * Each deletion re-checks on the node that no committed backup depends on it; a refused deletion is reported and the
 * run fails with PartialPruneError after trying the rest (never a silent partial).
 */
export async function pruneBackups(input: PruneBackupsInput): Promise<PruneBackupsResult> {
  const host = input.host ?? input.node;
  const group = `${host}_${input.name}`;
  upsertSearchAttributes([
    { key: BackupKind, value: 'prune' },
    { key: BackupNode, value: input.node },
    { key: BackupName, value: input.name },
    { key: BackupResource, value: group },
  ]);
  const problems = invalidRetentionPolicy(input.policy);
  if (problems.length > 0) throw ApplicationFailure.nonRetryable(problems.join('; '), 'InvalidInputError');
  const node = nodeActivities(input.node);
  const storage = formatStorage(input.storage);

  const backups = await node.listStoredBackups.executeWithOptions({ summary: `list backups of ${group} in ${storage}` }, [
    { node: input.node, storage: input.storage, host, name: input.name },
  ]);
  const plan = planRetention(backups, input.policy, new Date(), { host, name: input.name }); // workflow time: replays identically
  log.info('retention plan', { group, policy: describePolicy(input.policy), keep: plan.keep.length, delete: plan.delete.length, dryRun: input.dryRun });
  const result: PruneBackupsResult = { storage, dryRun: input.dryRun, plan, deleted: [], refused: [] };
  if (input.dryRun) return result;

  for (const entry of plan.delete) {
    const ref: BackupRef = { host, name: input.name, timestamp: entry.timestamp };
    try {
      const r = await node.deleteBackup.executeWithOptions({ summary: `delete ${backupId(ref)} (level ${entry.level}) from ${storage}` }, [
        { storage: input.storage, ref },
      ]);
      result.deleted.push({ timestamp: entry.timestamp, objects: r.objects });
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === 'BackupHasDependentsError') {
        result.refused.push({ timestamp: entry.timestamp, reason: cause.message });
        continue;
      }
      throw err;
    }
  }
  if (result.refused.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `pruned ${result.deleted.length} of ${plan.delete.length} planned backups of ${group}; REFUSED ${result.refused.map((r) => `${r.timestamp} (${r.reason})`).join(', ')}`,
      'PartialPruneError',
      result
    );
  }
  return result;
}
