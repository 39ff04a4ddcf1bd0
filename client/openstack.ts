/**
 * The OpenStack operations of PermafrostClient (volume, image and server backups and restores, Cinder's own backups,
 * the orphan sweep and its schedule). Each validates its request, checks that workers serve the node, and starts the
 * workflow by name on the central queue; PermafrostClient exposes them as methods.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Client, ScheduleOptionsStartWorkflowAction, ScheduleUpdateOptions, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { formatBackupTimestamp } from '../workflows/shared/naming';
import type {
  BackupImageInput,
  BackupImageResult,
  BackupServerInput,
  BackupServerResult,
  BackupServersInput,
  BackupServersResult,
  BackupVolumeInput,
  BackupVolumeNativeInput,
  BackupVolumeNativeResult,
  BackupVolumeResult,
  BackupVolumesInput,
  BackupVolumesResult,
  RestoreImageInput,
  RestoreImageResult,
  RestoreServerInput,
  RestoreServerResult,
  RestoreVolumeInput,
  RestoreVolumeNativeInput,
  RestoreVolumeNativeResult,
  RestoreVolumeResult,
  SweepInput,
  SweepResult,
} from '../workflows/shared/openstack-types';
import { formatDuration } from '../workflows/shared/retention';
import { CENTRAL_TASK_QUEUE } from '../workflows/shared/queues';
import { formatStorage } from '../workflows/shared/storage-url';
import type { StorageTarget } from '../workflows/shared/types';
import type { ValidationContext } from './validate';
import {
  validateBackupImage,
  validateBackupServer,
  validateBackupServers,
  validateBackupVolume,
  validateBackupVolumeNative,
  validateBackupVolumes,
  validateRestoreImage,
  validateRestoreServer,
  validateRestoreVolume,
  validateRestoreVolumeNative,
  validateSweep,
  validateSweepSchedule,
} from './validate-openstack';
import type {
  BackupImageRequest,
  BackupServerRequest,
  BackupServersRequest,
  BackupVolumeNativeRequest,
  BackupVolumeRequest,
  BackupVolumesRequest,
  RestoreImageRequest,
  RestoreServerRequest,
  RestoreVolumeNativeRequest,
  RestoreVolumeRequest,
  SweepRequest,
  SweepScheduleRequest,
} from './validate-openstack';

/** A workflow typed by its input and result only: started by name, so its code need not be importable here. */
export type WorkflowOf<I, R> = (input: I) => Promise<R>;
export type Started<I, R> = WorkflowHandleWithFirstExecutionRunId<WorkflowOf<I, R>>;

/** What the operations need of the client. */
export interface OpenStackHost {
  readonly temporal: Client;
  readonly validationContext: ValidationContext;
  assertWorkers(node: string): Promise<void>;
}

export interface SweepSchedule {
  scheduleId: string;
  /** False when an existing schedule was updated. */
  created: boolean;
  everyMs: number;
  input: SweepInput;
}

function uniqueSuffix(): string {
  return Math.random().toString(16).slice(2, 8);
}

/** `<kind>-<subject>-<UTC time>-<random>`: readable in the UI, unique per start. */
function workflowIdOf(kind: string, subject: string): string {
  return `${kind}-${subject}-${formatBackupTimestamp(new Date())}-${uniqueSuffix()}`;
}

async function start<I extends { node: string }, R>(host: OpenStackHost, type: string, input: I, workflowId: string, summary: string): Promise<Started<I, R>> {
  await host.assertWorkers(input.node);
  return host.temporal.workflow.start<WorkflowOf<I, R>>(type, { taskQueue: CENTRAL_TASK_QUEUE, workflowId, args: [input], staticSummary: summary });
}

function cloudLabel(input: { cloud?: string }): string {
  return input.cloud ? ` (cloud ${input.cloud})` : '';
}

function targetsLabel(input: { storage: StorageTarget; copies?: StorageTarget[] }): string {
  return [input.storage, ...(input.copies ?? [])].map(formatStorage).join(' + ');
}

/** What a multi-resource backup covers, for its summary, and the subject of its workflow id. */
function scopeLabels(input: { node: string; scope: BackupVolumesInput['scope'] | BackupServersInput['scope'] }, noun: 'volume' | 'server'): { what: string; subject: string } {
  const s = input.scope;
  const count = s.kind === 'list' ? ('volumeIds' in s ? s.volumeIds.length : s.serverIds.length) : undefined;
  return {
    what: count !== undefined ? `${count} ${noun}(s)` : s.kind === 'project' ? `the project's ${noun}s` : `the ${noun}s of every project`,
    subject: `${input.node}-${count ?? s.kind}`,
  };
}

export async function startBackupVolume(host: OpenStackHost, request: BackupVolumeRequest): Promise<Started<BackupVolumeInput, BackupVolumeResult>> {
  const input = validateBackupVolume(request, host.validationContext);
  return start(host, 'backupVolume', input, workflowIdOf('backup-volume', input.volumeId), `Back up volume ${input.volumeId}${cloudLabel(input)} to ${targetsLabel(input)} as volume_${input.name}`);
}

export async function startRestoreVolume(host: OpenStackHost, request: RestoreVolumeRequest): Promise<Started<RestoreVolumeInput, RestoreVolumeResult>> {
  const input = validateRestoreVolume(request, host.validationContext);
  const into = input.targetVolumeId ? `over volume ${input.targetVolumeId}` : `as ${input.volumeName ? `volume ${input.volumeName}` : 'a new volume'}`;
  return start(host, 'restoreVolume', input, workflowIdOf('restore-volume', input.name), `Restore volume_${input.name}${input.timestamp ? `/${input.timestamp}` : ''} ${into}${cloudLabel(input)}`);
}

export async function startBackupImage(host: OpenStackHost, request: BackupImageRequest): Promise<Started<BackupImageInput, BackupImageResult>> {
  const input = validateBackupImage(request, host.validationContext);
  return start(host, 'backupImage', input, workflowIdOf('backup-image', input.imageId), `Back up image ${input.imageId}${cloudLabel(input)} to ${targetsLabel(input)} as image_${input.name}`);
}

export async function startRestoreImage(host: OpenStackHost, request: RestoreImageRequest): Promise<Started<RestoreImageInput, RestoreImageResult>> {
  const input = validateRestoreImage(request, host.validationContext);
  return start(host, 'restoreImage', input, workflowIdOf('restore-image', input.name), `Restore image_${input.name}${input.timestamp ? `/${input.timestamp}` : ''} as ${input.imageName ? `image ${input.imageName}` : 'a new image'}${cloudLabel(input)}`);
}

export async function startBackupVolumes(host: OpenStackHost, request: BackupVolumesRequest): Promise<Started<BackupVolumesInput, BackupVolumesResult>> {
  const input = validateBackupVolumes(request, host.validationContext);
  const { what, subject } = scopeLabels(input, 'volume');
  return start(host, 'backupVolumes', input, workflowIdOf('backup-volumes', subject), `Back up ${what}${cloudLabel(input)}, ${input.concurrency ?? 2} at a time`);
}

export async function startBackupServer(host: OpenStackHost, request: BackupServerRequest): Promise<Started<BackupServerInput, BackupServerResult>> {
  const input = validateBackupServer(request, host.validationContext);
  return start(host, 'backupServer', input, workflowIdOf('backup-server', input.serverId), `Back up server ${input.serverId}${cloudLabel(input)} to ${targetsLabel(input)} as server_${input.name}`);
}

export async function startRestoreServer(host: OpenStackHost, request: RestoreServerRequest): Promise<Started<RestoreServerInput, RestoreServerResult>> {
  const input = validateRestoreServer(request, host.validationContext);
  const as = input.serverName ? `server ${input.serverName}` : 'a new server';
  return start(host, 'restoreServer', input, workflowIdOf('restore-server', input.name), `Restore server_${input.name}${input.timestamp ? `/${input.timestamp}` : ''} as ${as}${cloudLabel(input)}`);
}

export async function startBackupServers(host: OpenStackHost, request: BackupServersRequest): Promise<Started<BackupServersInput, BackupServersResult>> {
  const input = validateBackupServers(request, host.validationContext);
  const { what, subject } = scopeLabels(input, 'server');
  return start(host, 'backupServers', input, workflowIdOf('backup-servers', subject), `Back up ${what}${cloudLabel(input)}, ${input.concurrency ?? 2} at a time`);
}

export async function startBackupVolumeNative(host: OpenStackHost, request: BackupVolumeNativeRequest): Promise<Started<BackupVolumeNativeInput, BackupVolumeNativeResult>> {
  const input = validateBackupVolumeNative(request, host.validationContext);
  return start(host, 'backupVolumeNative', input, workflowIdOf('backup-volume-native', input.volumeId), `Cinder backup of volume ${input.volumeId}${input.incremental === false ? ' (full)' : ''}${input.keep ? `, keep ${input.keep}` : ''}${cloudLabel(input)}`);
}

export async function startRestoreVolumeNative(host: OpenStackHost, request: RestoreVolumeNativeRequest): Promise<Started<RestoreVolumeNativeInput, RestoreVolumeNativeResult>> {
  const input = validateRestoreVolumeNative(request, host.validationContext);
  return start(host, 'restoreVolumeNative', input, workflowIdOf('restore-volume-native', input.backupId), `Restore Cinder backup ${input.backupId}${input.targetVolumeId ? ` over volume ${input.targetVolumeId}` : ''}${cloudLabel(input)}`);
}

function sweepSummary(input: SweepInput): string {
  return `${input.dryRun ? 'Find' : 'Remove'} orphaned permafrost temporaries older than ${formatDuration(input.graceMs ?? 0)}${input.allTenants ? ' in every project' : ''}${cloudLabel(input)}`;
}

export async function startSweep(host: OpenStackHost, request: SweepRequest = {}): Promise<Started<SweepInput, SweepResult>> {
  const input = validateSweep(request, host.validationContext);
  return start(host, 'sweepOrphans', input, workflowIdOf('sweep', input.node), sweepSummary(input));
}

/** Schedule id of the periodic sweep of one node. */
export function sweepScheduleId(node: string): string {
  return `permafrost-sweep-${node}`;
}

/**
 * Creates, or updates when it exists, the schedule that runs `sweepOrphans` every interval for one node. A sweep
 * that is still running when the next one is due is not doubled (overlap SKIP).
 */
export async function scheduleSweep(host: OpenStackHost, request: SweepScheduleRequest): Promise<SweepSchedule> {
  const { everyMs, input } = validateSweepSchedule(request, host.validationContext);
  await host.assertWorkers(input.node);
  const scheduleId = sweepScheduleId(input.node);
  const action: ScheduleOptionsStartWorkflowAction<WorkflowOf<SweepInput, SweepResult>> = {
    type: 'startWorkflow',
    workflowType: 'sweepOrphans',
    workflowId: scheduleId,
    taskQueue: CENTRAL_TASK_QUEUE,
    args: [input],
    staticSummary: sweepSummary(input),
  };
  const spec = { intervals: [{ every: everyMs }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP };
  try {
    await host.temporal.schedule.create({ scheduleId, spec, action, policies });
    return { scheduleId, created: true, everyMs, input };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await host.temporal.schedule.getHandle(scheduleId).update(
    (previous): ScheduleUpdateOptions<ScheduleOptionsStartWorkflowAction<WorkflowOf<SweepInput, SweepResult>>> => ({
      ...previous,
      spec,
      action,
      policies: { ...previous.policies, ...policies },
      state: { ...previous.state },
    })
  );
  return { scheduleId, created: false, everyMs, input };
}
