/**
 * Activities of native Cinder backups: Cinder's own backup service stores the data (Swift, posix, Ceph ...),
 * permafrost drives it, waits for it, rotates what it made and restores.
 *
 * - A backup is named by the workflow (`permafrost-<volume>-<workflow time>`), so a retry finds the one an earlier
 *   attempt made instead of making a second one. It carries `permafrost_managed` (keep-N rotation counts only these),
 *   the workflow's tags, the source volume's name, and for an incremental the parent Cinder builds it on
 *   (`permafrost_parent`; Cinder does not show it).
 * - A restore reads exactly the backup asked for: missing or not `available` is a clear, final error, never a
 *   fallback to another backup.
 * - Cinder's restore replaces the target volume's metadata with the source volume's (as it was when backed up). The
 *   restore therefore tags a new volume again once the data is in, and keeps `permafrost_restore_incomplete` on it
 *   until `finishNativeRestore`: until then the undo (and the sweeper) may remove it.
 */
import { activityInfo, cancellationSignal, log } from '@temporalio/activity';
import type { NativeBackupRecord, OpenStackPlace } from '../workflows/shared/openstack-types';
import type { RotationCandidate } from '../workflows/shared/native-rotation';
import { formatBackupTimestamp } from '../workflows/shared/naming';
import { restoredName, TAG_MANAGED, TAG_PARENT, TAG_RESTORE_INCOMPLETE, TAG_WORKFLOW_ID, temporaryTags } from '../workflows/shared/temporaries';
import { InvalidInputError, NoBackupFoundError } from './failures';
import { cloudRunner, waiting } from './openstack/steps';
import type { ConnectCloud, OpenStackClients } from './openstack/clients';
import type { CinderBackup, CinderVolume } from './openstack/cinder';
import { parseServiceTime } from './openstack/api';
import { OpenStackError } from './openstack/errors';
import { deleteAndWait, kindOps } from './openstack/resources';
import { waitForStatus, waitGone, waitSettled } from './openstack/wait';
import { ResourceStateError } from './volumes';

export interface NativeBackupActivityDeps {
  /** Default: clouds.yaml / OS_* of this worker (tests inject fakes). */
  connectCloud?: ConnectCloud;
}

/** Backup metadata: the name of the volume when it was backed up (the default name of a restored volume). */
export const TAG_VOLUME_NAME = 'permafrost_volume_name';
/** Volume metadata while a restore into an existing volume is being finished: the workflow that restored it. */
export const TAG_RESTORED_BY = 'permafrost_restored_by';
/** Description Cinder gives the volume it creates for a restore (how a retry recognises it before it is tagged). */
export const CINDER_RESTORE_DESCRIPTION = 'auto-created_from_restore_from_backup';

/** Cinder's timestamps have no zone (UTC) and microseconds; unreadable ones sort first. */
const cinderTime = (t: string): number => parseServiceTime(t) ?? 0;

export function nativeBackupRecord(b: CinderBackup): NativeBackupRecord {
  return {
    id: b.id,
    name: b.name ?? '',
    volumeId: b.volume_id,
    incremental: b.is_incremental,
    createdAt: new Date(cinderTime(b.created_at)).toISOString(),
    parentId: b.metadata?.[TAG_PARENT] ?? null,
    size: b.size,
  };
}

/**
 * The backup Cinder (Zed) builds an incremental on: the volume's backup (of this project) with the latest data
 * timestamp, whatever its state. Undefined when there is none.
 */
export function cinderParentOf(backups: readonly CinderBackup[]): CinderBackup | undefined {
  let latest: CinderBackup | undefined;
  for (const b of backups) if (!latest || cinderTime(b.data_timestamp ?? b.created_at) > cinderTime(latest.data_timestamp ?? latest.created_at)) latest = b;
  return latest;
}

function failReason(b: CinderBackup): string {
  return b.fail_reason ? ` (${b.fail_reason})` : '';
}

function nativeBackupActivities(deps: NativeBackupActivityDeps) {
  const cloud = cloudRunner(deps.connectCloud);
  const workflowId = (): string => activityInfo().workflowExecution?.workflowId ?? 'no-workflow';
  const now = (): string => new Date().toISOString();

  /** The backup named `name` that this workflow made, if any. */
  const ownBackup = async (c: OpenStackClients, name: string, wf: string): Promise<CinderBackup | undefined> =>
    (await c.cinder.listBackups({ name }, cancellationSignal())).find((b) => b.name === name && b.metadata?.[TAG_WORKFLOW_ID] === wf);

  /**
   * The volumes a restore of this workflow made, named `name`: tagged with the workflow, or one Cinder created for a
   * restore of this backup that is not tagged (yet, or any more). A name is checked to be free before the restore.
   */
  const restoredVolumes = async (c: OpenStackClients, name: string, wf: string, backupId: string): Promise<CinderVolume[]> =>
    (await c.cinder.listVolumes({ name }, cancellationSignal())).filter((v) => {
      if (v.name !== name) return false;
      if (v.metadata[TAG_WORKFLOW_ID] === wf) return true;
      if (v.description !== CINDER_RESTORE_DESCRIPTION) return false;
      const src = v.metadata.src_backup_id;
      // Untagged: made by the restore call, not tagged yet. Restored from this backup: Cinder replaced our tags
      // with the source volume's metadata (which may hold another workflow's tags) and set `src_backup_id`.
      return src === backupId || (src === undefined && v.metadata[TAG_WORKFLOW_ID] === undefined);
    });

  /** The backup to restore: it exists and is available, or a final error (no other backup is tried). */
  const restorableBackup = async (c: OpenStackClients, backupId: string): Promise<CinderBackup> => {
    const b = await c.cinder.findBackup(backupId, cancellationSignal());
    if (!b) throw new NoBackupFoundError(`Cinder backup ${backupId} does not exist (or is not visible to ${c.session.description}); nothing was restored`);
    if (b.status !== 'available') {
      throw new ResourceStateError(`Cinder backup ${backupId} is ${b.status}${failReason(b)}; only an available backup can be restored, and no other backup is used instead`);
    }
    return b;
  };

  /** After a restore the backup goes back from `restoring` to `available`: wait for it, so the next step finds it free. */
  const backupSettled = async (c: OpenStackClients, place: OpenStackPlace, backupId: string): Promise<void> => {
    await waitSettled(`Cinder backup ${backupId} (end of restore)`, () => c.cinder.findBackup(backupId, cancellationSignal()), ['restoring'], waiting(place, 'delete'));
  };

  return {
    /**
     * A Cinder backup of the volume, named `name`, waited for until available (an `error` fails at once with
     * Cinder's reason). Incremental when asked and Cinder can (an available backup of the volume is the newest one);
     * otherwise full. An attached volume is backed up with `force` (crash-consistent).
     */
    async createNativeBackup(input: OpenStackPlace & { volumeId: string; name: string; incremental: boolean; container?: string }): Promise<NativeBackupRecord> {
      return cloud(input, async (c) => {
        const wf = workflowId();
        const signal = cancellationSignal();
        let id = (await ownBackup(c, input.name, wf))?.id;
        if (id === undefined) {
          const v = await c.cinder.findVolume(input.volumeId, signal);
          if (!v) throw new InvalidInputError(`volume ${input.volumeId} does not exist (or is not visible to ${c.session.description})`);
          if (v.status !== 'available' && v.status !== 'in-use') {
            throw new ResourceStateError(`volume ${input.volumeId} is ${v.status}; only an available or in-use volume can be backed up`);
          }
          const existing = (await c.cinder.listBackups({ volume_id: input.volumeId }, signal)).filter((b) => b.volume_id === input.volumeId);
          const parent = cinderParentOf(existing);
          const hasFull = existing.some((b) => b.status === 'available' && !b.is_incremental);
          const incremental = input.incremental && hasFull && parent?.status === 'available';
          if (input.incremental && !incremental) {
            log.info('full Cinder backup: no available backup to build on', {
              volumeId: input.volumeId,
              ...(parent ? { newest: parent.id, newestStatus: parent.status } : {}),
            });
          }
          const metadata: Record<string, string> = {
            [TAG_MANAGED]: 'true',
            ...temporaryTags(wf, now()),
            ...(v.name ? { [TAG_VOLUME_NAME]: v.name.slice(0, 255) } : {}),
            ...(incremental && parent ? { [TAG_PARENT]: parent.id } : {}),
          };
          const created = await c.cinder.createBackup(
            {
              volume_id: input.volumeId,
              name: input.name,
              description: `permafrost ${incremental ? 'incremental' : 'full'} backup of volume ${input.volumeId}`,
              incremental,
              force: v.status === 'in-use',
              ...(input.container !== undefined ? { container: input.container } : {}),
              metadata,
            },
            signal
          );
          log.info('Cinder backup started', { backupId: created.id, volumeId: input.volumeId, incremental, parent: metadata[TAG_PARENT] });
          id = created.id;
        }
        const backupId = id;
        const done = await waitForStatus(`Cinder backup ${backupId} of volume ${input.volumeId}`, () => c.cinder.findBackup(backupId, signal), ['available'], {
          ...waiting(input, 'backup'),
          detail: (b) => b.fail_reason ?? undefined,
        });
        return nativeBackupRecord(done);
      });
    },

    /** Every Cinder backup of the volume (this project's), each marked as made by permafrost or not: rotation's input. */
    async listManagedBackups(input: OpenStackPlace & { volumeId: string }): Promise<RotationCandidate[]> {
      return cloud(input, async (c) => {
        const backups = (await c.cinder.listBackups({ volume_id: input.volumeId }, cancellationSignal())).filter((b) => b.volume_id === input.volumeId);
        return backups.map((b) => ({
          id: b.id,
          createdAt: new Date(cinderTime(b.created_at)).toISOString(),
          incremental: b.is_incremental,
          parentId: b.metadata?.[TAG_PARENT] ?? null,
          status: b.status,
          managed: b.metadata?.[TAG_MANAGED] === 'true',
        }));
      });
    },

    /**
     * Deletes one backup permafrost made (rotation) and waits until it is gone; gone already = done. Refused (not an
     * error) when it is not permafrost's, not of the volume, busy, or something still builds on it (a backup made by
     * someone else on top of ours).
     */
    async deleteNativeBackup(input: OpenStackPlace & { backupId: string; volumeId: string }): Promise<{ deleted: boolean; refused?: string }> {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        const b = await c.cinder.findBackup(input.backupId, signal);
        if (!b) return { deleted: false };
        if (b.metadata?.[TAG_MANAGED] !== 'true') return { deleted: false, refused: 'not made by permafrost' };
        if (b.volume_id !== input.volumeId) return { deleted: false, refused: `a backup of volume ${b.volume_id}, not ${input.volumeId}` };
        if (b.status !== 'deleting') {
          if (b.status !== 'available' && b.status !== 'error') return { deleted: false, refused: `it is ${b.status}` };
          if (b.has_dependent_backups) return { deleted: false, refused: 'another backup builds on it' };
          await c.cinder.deleteBackup(b.id, signal);
        }
        await waitGone(`delete Cinder backup ${b.id}`, () => c.cinder.findBackup(b.id, signal), waiting(input, 'delete'));
        log.info('Cinder backup deleted', { backupId: b.id, volumeId: b.volume_id });
        return { deleted: true };
      });
    },

    /**
     * Checks a restore before anything is made: the backup exists and is available; a target volume exists, is
     * available, detached and big enough; a new volume's name (given, or `<volume name>~<backup time>`) is free.
     */
    async prepareNativeRestore(
      input: OpenStackPlace & { backupId: string; targetVolumeId?: string; volumeName?: string }
    ): Promise<{ backup: NativeBackupRecord; volumeName: string; into: 'new' | 'existing' }> {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        const b = await restorableBackup(c, input.backupId);
        if (input.targetVolumeId !== undefined) {
          const v = await c.cinder.findVolume(input.targetVolumeId, signal);
          if (!v) throw new InvalidInputError(`target volume ${input.targetVolumeId} does not exist`);
          if (v.attachments.length > 0 || v.status !== 'available') {
            throw new ResourceStateError(`target volume ${input.targetVolumeId} is ${v.status}${v.attachments.length > 0 ? ' and attached' : ''}; detach it first (it must be available)`);
          }
          if (v.size < b.size) throw new InvalidInputError(`target volume ${input.targetVolumeId} has ${v.size} GiB; Cinder backup ${b.id} needs ${b.size} GiB`);
          return { backup: nativeBackupRecord(b), volumeName: v.name ?? '', into: 'existing' as const };
        }
        const source = b.metadata?.[TAG_VOLUME_NAME] || (await c.cinder.findVolume(b.volume_id, signal))?.name || b.volume_id;
        const volumeName = input.volumeName ?? restoredName(source, formatBackupTimestamp(new Date(cinderTime(b.created_at))));
        const wf = workflowId();
        const taken = (await c.cinder.listVolumes({ name: volumeName }, signal)).filter((v) => v.name === volumeName && v.metadata[TAG_WORKFLOW_ID] !== wf);
        if (taken.length > 0) {
          throw new InvalidInputError(`a volume named ${JSON.stringify(volumeName)} already exists (${taken.map((v) => v.id).join(', ')}); choose another name for the restored volume`);
        }
        return { backup: nativeBackupRecord(b), volumeName, into: 'new' as const };
      });
    },

    /**
     * Restores the backup, into a new volume named `volumeName` (Cinder creates it; tagged incomplete until
     * `finishNativeRestore`) or over `targetVolumeId`, and waits until the volume is available again
     * (`error_restoring` fails at once). A retry finds the volume of an earlier attempt and waits for it.
     */
    async restoreNativeBackup(input: OpenStackPlace & { backupId: string; targetVolumeId?: string; volumeName?: string }): Promise<{ volumeId: string }> {
      return cloud(input, async (c) => {
        const wf = workflowId();
        const signal = cancellationSignal();
        const waitRestored = (id: string): Promise<CinderVolume> =>
          waitForStatus(`volume ${id} (restore of Cinder backup ${input.backupId})`, () => c.cinder.findVolume(id, signal), ['available'], waiting(input, 'backup'));

        if (input.targetVolumeId !== undefined) {
          const target = input.targetVolumeId;
          const v = await c.cinder.getVolume(target, signal);
          if (v.status === 'available' && v.metadata[TAG_RESTORED_BY] === wf) return { volumeId: target }; // an earlier attempt finished
          if (v.status === 'available') {
            if (v.attachments.length > 0) throw new ResourceStateError(`target volume ${target} is attached; detach it first`);
            await restorableBackup(c, input.backupId);
            await c.cinder.restoreBackup(input.backupId, { volumeId: target }, signal);
          } else if (v.status !== 'restoring-backup') {
            // `restoring-backup`: an earlier attempt's restore is still running.
            throw new ResourceStateError(`target volume ${target} is ${v.status}; it must be available`);
          }
          await waitRestored(target);
          await c.cinder.setVolumeMetadata(target, { [TAG_RESTORED_BY]: wf }, signal);
          await backupSettled(c, input, input.backupId);
          return { volumeId: target };
        }

        const name = input.volumeName;
        if (!name) throw new InvalidInputError('a restore into a new volume needs its name');
        const tags = { ...temporaryTags(wf, now()), [TAG_RESTORE_INCOMPLETE]: 'true' };
        const found = await restoredVolumes(c, name, wf, input.backupId);
        if (found.length > 1) throw new ResourceStateError(`${found.length} volumes named ${JSON.stringify(name)} look like this restore's: ${found.map((v) => v.id).join(', ')}`);
        let id: string;
        const earlier = found[0];
        if (!earlier) {
          await restorableBackup(c, input.backupId);
          // Blocks while Cinder creates the volume, then starts the restore into it.
          id = (await c.cinder.restoreBackup(input.backupId, { name }, signal)).volumeId;
          await c.cinder.setVolumeMetadata(id, tags, signal);
        } else {
          id = earlier.id;
          if (earlier.metadata[TAG_WORKFLOW_ID] !== wf) await c.cinder.setVolumeMetadata(id, tags, signal);
          const settled = await waitSettled(`volume ${id}`, () => c.cinder.findVolume(id, signal), ['creating'], waiting(input, 'volume'));
          if (earlier.metadata[TAG_WORKFLOW_ID] === undefined && settled?.status === 'available' && settled.metadata.src_backup_id !== input.backupId) {
            // Cinder made the volume but the restore into it never started (the call died in between): start it.
            try {
              await c.cinder.restoreBackup(input.backupId, { volumeId: id }, signal);
            } catch (err) {
              const current = await c.cinder.findVolume(id, signal);
              if (!(err instanceof OpenStackError && err.kind === 'BadRequest' && current?.status === 'restoring-backup')) throw err;
            }
          }
        }
        await waitRestored(id);
        // Cinder's restore replaced the metadata with the source volume's: tag it again until it is finished.
        await c.cinder.setVolumeMetadata(id, tags, signal);
        await backupSettled(c, input, input.backupId);
        return { volumeId: id };
      });
    },

    /** Completes a restore: from now on nothing deletes the volume (drops the incomplete marker). */
    async finishNativeRestore(input: OpenStackPlace & { volumeId: string }): Promise<void> {
      await cloud(input, async (c) => {
        const signal = cancellationSignal();
        await c.cinder.deleteVolumeMetadataKey(input.volumeId, TAG_RESTORE_INCOMPLETE, signal);
        await c.cinder.deleteVolumeMetadataKey(input.volumeId, TAG_RESTORED_BY, signal);
      });
    },

    /**
     * Undo of a restore into a new volume: deletes the volume named `name` this workflow was restoring unless its
     * restore finished (waits for a running restore to end first: Cinder cannot delete a volume being restored).
     */
    async discardNativeRestore(input: OpenStackPlace & { name: string; backupId: string }): Promise<{ deleted: string[] }> {
      return cloud(input, async (c) => {
        const wf = workflowId();
        const signal = cancellationSignal();
        const ops = kindOps(c, 'volume');
        const deleted: string[] = [];
        for (const v of await restoredVolumes(c, input.name, wf, input.backupId)) {
          if (v.metadata[TAG_WORKFLOW_ID] === wf && v.metadata[TAG_RESTORE_INCOMPLETE] === undefined) continue; // finished
          await waitSettled(`volume ${v.id} (restore in progress)`, () => ops.byId(v.id, signal), ops.busy, waiting(input, 'backup'));
          if (await deleteAndWait(ops, 'volume', v.id, waiting(input, 'delete'))) deleted.push(v.id);
          log.info('unfinished restored volume deleted', { volumeId: v.id, name: input.name });
        }
        return { deleted };
      });
    },
  };
}

export type NativeBackupActivities = ReturnType<typeof nativeBackupActivities>;

/** The native Cinder backup activities of a node (registered in `createNodeActivities`). */
export function createNativeBackupActivities(deps: NativeBackupActivityDeps): NativeBackupActivities {
  return nativeBackupActivities(deps);
}
