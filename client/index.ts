/**
 * PermafrostClient: the typed library other services use (and the CLI is built on). It validates input before any
 * workflow starts, checks that a worker serves the node, starts workflows by type, and reads progress.
 */
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { backupFs, collectGarbage, listBackups, pruneBackups, restoreFs, storageInfo, verifyBackup } from '../workflows';
import { formatBackupTimestamp } from '../workflows/shared/naming';
import { restorePlanQuery } from '../workflows/shared/queries';
import { CENTRAL_TASK_QUEUE, nodeTaskQueue } from '../workflows/shared/queues';
import { formatStorage } from '../workflows/shared/storage-url';
import type {
  BackupFsResult,
  BackupSummary,
  CollectGarbageResult,
  PruneBackupsResult,
  RestoreFsResult,
  StorageInfoResult,
  TransferProgress,
  VerifyBackupResult,
} from '../workflows/shared/types';
import { loadConfig } from './config';
import type { PermafrostConfig } from './config';
import { connectOptions } from './connection';
import * as openstack from './openstack';
import type { Started, SweepSchedule } from './openstack';
import { validateBackupFs, validateGc, validateList, validatePrune, validateRestoreFs, validateVerify } from './validate';
import type { BackupFsRequest, GcRequest, PruneRequest, RestoreFsRequest, ValidationContext, VerifyRequest } from './validate';
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

export { ValidationError } from './validate';
export type { BackupFsRequest, GcRequest, PruneRequest, RestoreFsRequest, VerifyRequest } from './validate';
export type * from './validate-openstack';
export type { Started, SweepSchedule } from './openstack';
export { sweepScheduleId } from './openstack';
export type * from '../workflows/shared/types';
export type * from '../workflows/shared/openstack-types';

/** No worker polls a queue that a workflow needs, so it would wait instead of running. */
export class WorkerUnavailableError extends Error {
  override readonly name = 'WorkerUnavailableError';
}

export interface RunStatus {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  startTime?: string;
  closeTime?: string;
  searchAttributes: Record<string, unknown>;
  /** Running steps, with the progress their last heartbeat reported. */
  steps: { step: string; attempt: number; progress?: TransferProgress; lastFailure?: string }[];
  result?: unknown;
  failure?: string;
}

function uniqueSuffix(): string {
  return Math.random().toString(16).slice(2, 8);
}

export class PermafrostClient {
  private constructor(
    readonly temporal: Client,
    private readonly connection: Connection,
    readonly config: PermafrostConfig
  ) {}

  static async connect(config: PermafrostConfig = loadConfig()): Promise<PermafrostClient> {
    const connection = await Connection.connect({ ...connectOptions(config), connectTimeout: '10s' });
    return new PermafrostClient(new Client({ connection, namespace: config.temporal.namespace }), connection, config);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  private get ctx(): ValidationContext {
    return { localNode: this.config.node, defaultStorage: this.config.storage };
  }

  /** Defaults and local checks of request validation: this host's node name and the configured storage. */
  get validationContext(): ValidationContext {
    return this.ctx;
  }

  /**
   * Fails unless workers poll the central queue and the node's queue. A worker that has just started may not have
   * polled yet, so a missing poller is looked for again for `graceMs` before giving up.
   */
  async assertWorkers(node: string, graceMs = 10_000): Promise<void> {
    const deadline = Date.now() + graceMs;
    for (;;) {
      const missing = await this.missingWorkers(node);
      if (missing.length === 0) return;
      if (Date.now() >= deadline) {
        throw new WorkerUnavailableError(`${missing.join('; ')} (start one with: permafrost-worker --role all)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  private async missingWorkers(node: string): Promise<string[]> {
    const describe = async (name: string, type: temporal.api.enums.v1.TaskQueueType): Promise<number> => {
      const res = await this.temporal.workflowService.describeTaskQueue({
        namespace: this.config.temporal.namespace,
        taskQueue: { name, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: type,
      });
      return res.pollers?.length ?? 0;
    };
    const missing: string[] = [];
    if ((await describe(CENTRAL_TASK_QUEUE, temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)) === 0) {
      missing.push(`no central worker polls ${CENTRAL_TASK_QUEUE}`);
    }
    const queue = node === this.config.node ? this.config.nodeTaskQueue : nodeTaskQueue(node);
    if ((await describe(queue, temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)) === 0) {
      missing.push(`no node worker polls ${queue}`);
    }
    return missing;
  }

  async startBackupFs(request: BackupFsRequest): Promise<WorkflowHandleWithFirstExecutionRunId<typeof backupFs>> {
    const input = validateBackupFs(request, this.ctx);
    await this.assertWorkers(input.node);
    const workflowId = `backup-fs-${input.node}-${input.name}-${formatBackupTimestamp(new Date())}-${uniqueSuffix()}`;
    return this.temporal.workflow.start<typeof backupFs>('backupFs', {
      taskQueue: CENTRAL_TASK_QUEUE,
      workflowId,
      args: [input],
      staticSummary: `Back up ${input.paths.join(', ')} on ${input.node} as ${input.name}`,
    });
  }

  async backupFs(request: BackupFsRequest): Promise<BackupFsResult> {
    return (await this.startBackupFs(request)).result();
  }

  async startRestoreFs(request: RestoreFsRequest): Promise<WorkflowHandleWithFirstExecutionRunId<typeof restoreFs>> {
    const input = validateRestoreFs(request, this.ctx);
    await this.assertWorkers(input.node);
    const workflowId = `restore-fs-${input.node}-${input.name}-${formatBackupTimestamp(new Date())}-${uniqueSuffix()}`;
    return this.temporal.workflow.start<typeof restoreFs>('restoreFs', {
      taskQueue: CENTRAL_TASK_QUEUE,
      workflowId,
      args: [input],
      staticSummary: `Restore ${input.host ?? input.node}_${input.name} into ${input.target} on ${input.node}`,
    });
  }

  async restoreFs(request: RestoreFsRequest): Promise<RestoreFsResult> {
    return (await this.startRestoreFs(request)).result();
  }

  async listBackups(request: { node?: string; storage?: string; host?: string; name?: string } = {}): Promise<BackupSummary[]> {
    const input = validateList(request, this.ctx);
    await this.assertWorkers(input.node);
    return this.temporal.workflow.execute<typeof listBackups>('listBackups', {
      taskQueue: CENTRAL_TASK_QUEUE,
      workflowId: `list-backups-${input.node}-${formatBackupTimestamp(new Date())}-${uniqueSuffix()}`,
      args: [input],
    });
  }

  /** Starts a verification of one stored backup (hashes, decryption, the archive itself). */
  async startVerifyBackup(request: VerifyRequest): Promise<WorkflowHandleWithFirstExecutionRunId<typeof verifyBackup>> {
    const input = validateVerify(request, this.ctx);
    await this.assertWorkers(input.node);
    return this.temporal.workflow.start<typeof verifyBackup>('verifyBackup', {
      taskQueue: CENTRAL_TASK_QUEUE,
      workflowId: `verify-${input.ref.host}-${input.ref.name}-${formatBackupTimestamp(new Date())}-${uniqueSuffix()}`,
      args: [input],
      staticSummary: `Verify ${input.ref.host}_${input.ref.name}/${input.ref.timestamp}`,
    });
  }

  async verifyBackup(request: VerifyRequest): Promise<VerifyBackupResult> {
    return (await this.startVerifyBackup(request)).result();
  }

  /** Backups per host and name in a storage, with sizes and segment counts. */
  async storageInfo(request: { node?: string; storage?: string } = {}): Promise<StorageInfoResult> {
    const { node, storage } = validateList(request, this.ctx);
    await this.assertWorkers(node);
    return this.temporal.workflow.execute<typeof storageInfo>('storageInfo', {
      taskQueue: CENTRAL_TASK_QUEUE,
      workflowId: `storage-info-${node}-${formatBackupTimestamp(new Date())}-${uniqueSuffix()}`,
      args: [{ node, storage }],
    });
  }

  /**
   * Starts a retention run for one host and name: the plan (what is kept and deleted, with reasons) is made in the
   * workflow; with `dryRun` nothing is deleted. Backups that kept ones depend on are always kept.
   */
  async startPruneBackups(request: PruneRequest): Promise<WorkflowHandleWithFirstExecutionRunId<typeof pruneBackups>> {
    const input = validatePrune(request, this.ctx);
    await this.assertWorkers(input.node);
    const host = input.host ?? input.node;
    return this.temporal.workflow.start<typeof pruneBackups>('pruneBackups', {
      taskQueue: CENTRAL_TASK_QUEUE,
      workflowId: `prune-${host}-${input.name}-${formatBackupTimestamp(new Date())}-${uniqueSuffix()}`,
      args: [input],
      staticSummary: `${input.dryRun ? 'Plan retention of' : 'Prune'} ${host}_${input.name}`,
    });
  }

  async pruneBackups(request: PruneRequest): Promise<PruneBackupsResult> {
    return (await this.startPruneBackups(request)).result();
  }

  /** Starts a garbage collection of uncommitted folders older than the grace period (default 24h) in a storage. */
  async startCollectGarbage(request: GcRequest = {}): Promise<WorkflowHandleWithFirstExecutionRunId<typeof collectGarbage>> {
    const input = validateGc(request, this.ctx);
    await this.assertWorkers(input.node);
    return this.temporal.workflow.start<typeof collectGarbage>('collectGarbage', {
      taskQueue: CENTRAL_TASK_QUEUE,
      workflowId: `gc-${input.node}-${formatBackupTimestamp(new Date())}-${uniqueSuffix()}`,
      args: [input],
      staticSummary: `${input.dryRun ? 'Find' : 'Remove'} uncommitted data in ${formatStorage(input.storage)}`,
    });
  }

  async collectGarbage(request: GcRequest = {}): Promise<CollectGarbageResult> {
    return (await this.startCollectGarbage(request)).result();
  }

  // OpenStack (client/openstack.ts). Volume, image and server backups are stored as `volume_<name>/<timestamp>`,
  // `image_<name>/<timestamp>` and `server_<name>/<timestamp>` (each disk of a server also as `server_<name>.root/...`,
  // `server_<name>.vol-<i>/...`); `name` defaults to the resource id.

  /** Backs up a Cinder volume: snapshot -> temporary volume -> image -> storage; every temporary is removed. */
  startBackupVolume(request: BackupVolumeRequest): Promise<Started<BackupVolumeInput, BackupVolumeResult>> {
    return openstack.startBackupVolume(this, request);
  }

  async backupVolume(request: BackupVolumeRequest): Promise<BackupVolumeResult> {
    return (await this.startBackupVolume(request)).result();
  }

  /** Restores a volume backup as a new volume, or over an existing detached one (`targetVolumeId`). */
  startRestoreVolume(request: RestoreVolumeRequest): Promise<Started<RestoreVolumeInput, RestoreVolumeResult>> {
    return openstack.startRestoreVolume(this, request);
  }

  async restoreVolume(request: RestoreVolumeRequest): Promise<RestoreVolumeResult> {
    return (await this.startRestoreVolume(request)).result();
  }

  startBackupImage(request: BackupImageRequest): Promise<Started<BackupImageInput, BackupImageResult>> {
    return openstack.startBackupImage(this, request);
  }

  startRestoreImage(request: RestoreImageRequest): Promise<Started<RestoreImageInput, RestoreImageResult>> {
    return openstack.startRestoreImage(this, request);
  }

  /** Backs up many volumes (ids, the project's, every project's) as child runs; the result reports each one. */
  startBackupVolumes(request: BackupVolumesRequest): Promise<Started<BackupVolumesInput, BackupVolumesResult>> {
    return openstack.startBackupVolumes(this, request);
  }

  /**
   * Backs up a Nova server: createImage once it has no task, then every disk (the root disk of an image-booted server,
   * each volume) to storage, then the server's record (flavor, networks, security groups, key, metadata, disks).
   */
  startBackupServer(request: BackupServerRequest): Promise<Started<BackupServerInput, BackupServerResult>> {
    return openstack.startBackupServer(this, request);
  }

  async backupServer(request: BackupServerRequest): Promise<BackupServerResult> {
    return (await this.startBackupServer(request)).result();
  }

  /** Restores a server backup as a new server (`<name>~<backup time>`) with new volumes, and waits until it is ACTIVE. */
  startRestoreServer(request: RestoreServerRequest): Promise<Started<RestoreServerInput, RestoreServerResult>> {
    return openstack.startRestoreServer(this, request);
  }

  async restoreServer(request: RestoreServerRequest): Promise<RestoreServerResult> {
    return (await this.startRestoreServer(request)).result();
  }

  /** Backs up many servers (ids, the project's, every project's) as child runs; the result reports each one. */
  startBackupServers(request: BackupServersRequest): Promise<Started<BackupServersInput, BackupServersResult>> {
    return openstack.startBackupServers(this, request);
  }

  /** A Cinder backup (Cinder's own backup service), incremental when possible, with keep-N rotation. */
  startBackupVolumeNative(request: BackupVolumeNativeRequest): Promise<Started<BackupVolumeNativeInput, BackupVolumeNativeResult>> {
    return openstack.startBackupVolumeNative(this, request);
  }

  startRestoreVolumeNative(request: RestoreVolumeNativeRequest): Promise<Started<RestoreVolumeNativeInput, RestoreVolumeNativeResult>> {
    return openstack.startRestoreVolumeNative(this, request);
  }

  /** Removes temporaries permafrost left in OpenStack whose workflow no longer runs (or lists them: `dryRun`). */
  startSweep(request: SweepRequest = {}): Promise<Started<SweepInput, SweepResult>> {
    return openstack.startSweep(this, request);
  }

  async sweep(request: SweepRequest = {}): Promise<SweepResult> {
    return (await this.startSweep(request)).result();
  }

  /** Creates or updates the schedule `permafrost-sweep-<node>` that sweeps every `every` (overlap: skip). */
  scheduleSweep(request: SweepScheduleRequest): Promise<SweepSchedule> {
    return openstack.scheduleSweep(this, request);
  }

  /**
   * The plan of a running restore (the backups it applies, level 0 first), once it has chosen them; undefined when the
   * run ended before (it failed, or its workers predate plans).
   */
  async restorePlan(workflowId: string, timeoutMs = 120_000): Promise<BackupSummary[] | undefined> {
    const handle = this.temporal.workflow.getHandle(workflowId);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const plan = await handle.query(restorePlanQuery).catch(() => undefined);
      if (plan) return plan;
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') return undefined;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return undefined;
  }

  /** Requests cancellation: the run stops its current step and removes its temporaries before it closes. */
  async cancel(workflowId: string): Promise<void> {
    await this.temporal.workflow.getHandle(workflowId).cancel();
  }

  async status(workflowId: string): Promise<RunStatus> {
    const handle = this.temporal.workflow.getHandle(workflowId);
    const d = await handle.describe();
    const steps = (d.raw.pendingActivities ?? []).map((a) => {
      const payload = a.heartbeatDetails?.payloads?.[0];
      return {
        step: a.activityType?.name ?? '?',
        attempt: a.attempt ?? 1,
        progress: payload ? defaultPayloadConverter.fromPayload<TransferProgress>(payload) : undefined,
        lastFailure: a.lastFailure?.message ?? undefined,
      };
    });
    const searchAttributes: Record<string, unknown> = {};
    for (const { key, value } of d.typedSearchAttributes.getAll()) searchAttributes[key.name] = value;
    const status: RunStatus = {
      workflowId,
      runId: d.runId,
      type: d.type,
      status: d.status.name,
      startTime: d.startTime.toISOString(),
      closeTime: d.closeTime?.toISOString(),
      searchAttributes,
      steps,
    };
    if (d.status.name === 'COMPLETED') status.result = await handle.result();
    else if (d.status.name !== 'RUNNING') {
      status.failure = await handle.result().then(
        () => undefined,
        (err: unknown) => describeFailure(err)
      );
    }
    return status;
  }
}

/** The innermost useful message of a workflow failure (the activity's own error, not the wrappers). */
export function describeFailure(err: unknown): string {
  let e: unknown = err instanceof WorkflowFailedError ? err.cause ?? err : err;
  const parts: string[] = [];
  while (e instanceof Error) {
    const type = (e as { type?: string }).type;
    if (e.message && !/^Activity task failed$|^Workflow execution failed$/.test(e.message)) parts.push(type ? `${type}: ${e.message}` : e.message);
    e = (e as { cause?: unknown }).cause;
  }
  return parts[0] ?? String(err);
}
