/**
 * Activities of the Cinder and Glance workflows. Each create is idempotent: it first looks for the resource by
 * its deterministic name (a retry after a lost answer, or a resumed run, finds it instead of making a second one),
 * tags it, and waits for it with heartbeats and a timeout. Deletes are idempotent and wait until the resource is gone.
 */
import { activityInfo, heartbeat, log, cancellationSignal } from '@temporalio/activity';
import { formatStorage } from '../workflows/shared/storage-url';
import { selectRestorePoint } from '../workflows/shared/selection';
import {
  IMAGE_TAG,
  isPermafrostKey,
  TAG_RESTORE_INCOMPLETE,
  TAG_WORKFLOW_ID,
  TEMP_PREFIX,
  temporaryTags,
} from '../workflows/shared/temporaries';
import type {
  BackupSelector,
  ImageRecord,
  OpenStackPlace,
  VolumeImageFormat,
  VolumeRecord,
  VolumeScope,
} from '../workflows/shared/openstack-types';
import type { BackupKindName, BackupRef, BackupSummary, BlobStoreOptions, StorageTarget } from '../workflows/shared/types';
import { keyFor, openBlob, storeBlob } from './blob-stream';
import type { StoreBlobResult } from './blob-stream';
import { listManifests, readManifest } from './catalog';
import { CorruptBackupError, InvalidInputError, NoBackupFoundError } from './failures';
import { summarize } from './manifest';
import type { Manifest } from './manifest';
import { cloudRunner, waiting } from './openstack/steps';
import type { ConnectCloud, OpenStackClients } from './openstack/clients';
import type { CinderVolume } from './openstack/cinder';
import { GLANCE_READONLY_FIELDS } from './openstack/glance';
import type { GlanceImage } from './openstack/glance';
import { deleteAndWait, kindOps } from './openstack/resources';
import type { ResourceKind } from './openstack/resources';
import { waitForStatus } from './openstack/wait';
import type { OpenStorage } from './storage/registry';

export interface VolumeActivityDeps {
  openStorage: OpenStorage;
  /** Default: clouds.yaml / OS_* of this worker (tests inject fakes). */
  connectCloud?: ConnectCloud;
}

/** A resource is not in a state the step can work with (a volume in `error`, an attached restore target ...). */
export class ResourceStateError extends Error {
  override readonly name = 'ResourceStateError';
}

function ownTags(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).filter(([k]) => !isPermafrostKey(k)));
}

export function volumeRecord(v: CinderVolume): VolumeRecord {
  return {
    type: 'volume',
    id: v.id,
    name: v.name ?? '',
    size: v.size,
    volumeType: v.volume_type,
    availabilityZone: v.availability_zone,
    bootable: v.bootable === 'true',
    encrypted: v.encrypted ?? false,
    multiattach: v.multiattach ?? false,
    description: v.description,
    metadata: ownTags(v.metadata),
    glanceMetadata: { ...(v.volume_image_metadata ?? {}) },
    attached: v.attachments.length > 0,
    ...(v['os-vol-tenant-attr:tenant_id'] ? { projectId: v['os-vol-tenant-attr:tenant_id'] } : {}),
  };
}

/** Properties of an image that a restore sets again (custom ones and user-settable core ones). */
export function imageRecord(i: GlanceImage): ImageRecord {
  const properties: Record<string, string> = {};
  const core = new Set(['name', 'disk_format', 'container_format', 'visibility', 'protected', 'tags', 'min_disk', 'min_ram', 'os_hidden']);
  for (const [k, v] of Object.entries(i)) {
    if (GLANCE_READONLY_FIELDS.has(k) || core.has(k) || isPermafrostKey(k) || typeof v !== 'string') continue;
    properties[k] = v;
  }
  return {
    type: 'image',
    id: i.id,
    name: i.name ?? '',
    size: i.size ?? 0,
    diskFormat: i.disk_format,
    containerFormat: i.container_format,
    visibility: i.visibility,
    protected: i.protected,
    tags: i.tags.filter((t) => t !== IMAGE_TAG),
    minDisk: i.min_disk,
    minRam: i.min_ram,
    properties,
    checksum: i.checksum ?? null,
  };
}

/** Keys of Cinder's `volume_image_metadata` that Glance refuses on create, or that Cinder sets itself (a second `signature_verified` fails the new volume). */
const NOT_SETTABLE = new Set([...GLANCE_READONLY_FIELDS, 'signature_verified', 'image_id', 'image_name', 'name', 'disk_format', 'container_format', 'min_disk', 'min_ram', 'visibility', 'protected', 'tags']);

export interface StreamInput extends OpenStackPlace, BlobStoreOptions {
  imageId: string;
  storage: StorageTarget;
  copies?: StorageTarget[];
  ref: BackupRef;
  kind: BackupKindName;
  resource: VolumeRecord | ImageRecord;
}

export function createVolumeActivities(deps: VolumeActivityDeps) {
  const cloud = cloudRunner(deps.connectCloud);

  /** The one resource named `name` that this workflow made, if any (a second one is a bug or a race: refuse). */
  const ownByName = async (c: OpenStackClients, kind: ResourceKind, name: string, workflowId: string) => {
    const found = (await kindOps(c, kind).byName(name, cancellationSignal())).filter(
      (r) => r.name === name && (r.tags[TAG_WORKFLOW_ID] === undefined || r.tags[TAG_WORKFLOW_ID] === workflowId)
    );
    return found[0];
  };

  const workflowId = (): string => activityInfo().workflowExecution?.workflowId ?? 'no-workflow';
  const now = (): string => new Date().toISOString();

  return {
    /** Reads the volume and checks it can be backed up, before anything is created. */
    async describeVolume(input: OpenStackPlace & { volumeId: string }): Promise<VolumeRecord> {
      return cloud(input, async (c) => {
        const v = await c.cinder.findVolume(input.volumeId, cancellationSignal());
        if (!v) throw new InvalidInputError(`volume ${input.volumeId} does not exist (or is not visible to ${c.session.description})`);
        if (v.status !== 'available' && v.status !== 'in-use') {
          throw new ResourceStateError(`volume ${input.volumeId} is ${v.status}; only an available or in-use volume can be backed up`);
        }
        return volumeRecord(v);
      });
    },

    /** Snapshot of the volume (forced when attached), tagged, waited for until available. */
    async createTemporarySnapshot(input: OpenStackPlace & { volumeId: string; name: string; force: boolean }): Promise<{ snapshotId: string }> {
      return cloud(input, async (c) => {
        const wf = workflowId();
        const existing = await ownByName(c, 'snapshot', input.name, wf);
        const id =
          existing?.id ??
          (
            await c.cinder.createSnapshot(
              { volume_id: input.volumeId, name: input.name, force: input.force, description: `permafrost backup of volume ${input.volumeId}`, metadata: temporaryTags(wf, now()) },
              cancellationSignal()
            )
          ).id;
        await waitForStatus(`snapshot ${id} of volume ${input.volumeId}`, () => c.cinder.findSnapshot(id, cancellationSignal()), ['available'], waiting(input, 'snapshot'));
        return { snapshotId: id };
      });
    },

    /** A volume from the snapshot (the one upload-to-image reads), tagged, waited for until available. */
    async createVolumeFromSnapshot(input: OpenStackPlace & { snapshotId: string; name: string; size: number; volumeType: string | null; availabilityZone: string | null }): Promise<{ volumeId: string }> {
      return cloud(input, async (c) => {
        const wf = workflowId();
        const existing = await ownByName(c, 'volume', input.name, wf);
        const id =
          existing?.id ??
          (
            await c.cinder.createVolume(
              {
                name: input.name,
                size: input.size,
                snapshot_id: input.snapshotId,
                ...(input.volumeType ? { volume_type: input.volumeType } : {}),
                ...(input.availabilityZone ? { availability_zone: input.availabilityZone } : {}),
                description: 'permafrost temporary volume',
                metadata: temporaryTags(wf, now()),
              },
              cancellationSignal()
            )
          ).id;
        await waitForStatus(`temporary volume ${id}`, () => c.cinder.findVolume(id, cancellationSignal()), ['available'], waiting(input, 'volume'));
        return { volumeId: id };
      });
    },

    /** Cinder copies the volume into a new Glance image (raw); waits until the image is active and the volume free. */
    async uploadVolumeToImage(input: OpenStackPlace & { volumeId: string; imageName: string; diskFormat?: VolumeImageFormat }): Promise<{ imageId: string; size: number }> {
      return cloud(input, async (c) => {
        const wf = workflowId();
        const signal = cancellationSignal();
        let id = (await ownByName(c, 'image', input.imageName, wf))?.id;
        if (id === undefined) {
          const volume = await c.cinder.getVolume(input.volumeId, signal);
          if (volume.status === 'uploading') {
            // An earlier attempt's upload is still running but its image has no name yet: wait, then look again.
            await waitForStatus(`volume ${input.volumeId} (upload in progress)`, () => c.cinder.findVolume(input.volumeId, signal), ['available'], waiting(input, 'image'));
            id = (await ownByName(c, 'image', input.imageName, wf))?.id;
          }
          id ??= (await c.cinder.uploadToImage(input.volumeId, { imageName: input.imageName, force: true, diskFormat: input.diskFormat ?? 'raw' }, signal)).imageId;
        }
        const imageId = id;
        // Tag it for the sweeper (Cinder's upload action takes no properties).
        await c.glance.setProperties(imageId, temporaryTags(wf, now()), signal);
        const image = await waitForStatus(`image ${imageId} (upload of volume ${input.volumeId})`, () => c.glance.find(imageId, signal), ['active'], waiting(input, 'image'));
        return { imageId, size: image.size ?? 0 };
      });
    },

    /** Streams a Glance image's data into the storage pipeline and commits the backup. */
    async streamImageToStorage(input: StreamInput): Promise<StoreBlobResult> {
      const signal = cancellationSignal();
      return cloud(input, async (c) => {
        const image = await c.glance.get(input.imageId, signal);
        if (image.status !== 'active') throw new ResourceStateError(`image ${input.imageId} is ${image.status}, not active`);
        return storeBlob(
          deps.openStorage,
          {
            ...input,
            signal,
            ...(image.size !== null ? { totalBytes: image.size } : {}),
            resource: input.resource as unknown as Manifest['resource'],
          },
          async () => (await c.glance.download(input.imageId, signal)).body
        );
      });
    },

    /**
     * Undo of a create: deletes every `kind` named `name` that this workflow made and waits until each is gone.
     * Ours = tagged with this workflow's id; an untagged one counts only under a temporary name (which holds the
     * workflow id: an upload-to-image whose answer was lost before tagging), never under a user-visible name.
     * `onlyIncomplete` spares a restored resource whose restore finished. Idempotent.
     */
    async deleteTemporaries(input: OpenStackPlace & { kind: ResourceKind; name: string; onlyIncomplete?: boolean }): Promise<{ deleted: string[] }> {
      return cloud(input, async (c) => {
        const wf = workflowId();
        const ops = kindOps(c, input.kind);
        const found = (await ops.byName(input.name, cancellationSignal())).filter(
          (r) =>
            r.name === input.name &&
            (r.tags[TAG_WORKFLOW_ID] === wf || (r.tags[TAG_WORKFLOW_ID] === undefined && input.name.startsWith(TEMP_PREFIX))) &&
            (!input.onlyIncomplete || r.tags[TAG_RESTORE_INCOMPLETE] !== undefined)
        );
        const deleted: string[] = [];
        for (const r of found) {
          if (await deleteAndWait(ops, input.kind, r.id, waiting(input, 'delete'))) {
            deleted.push(r.id);
            log.info('deleted', { kind: input.kind, id: r.id, name: r.name });
          }
        }
        return { deleted };
      });
    },

    /** The backup a restore reads (exact timestamp, newest at or before a date, or newest) and what it recorded. */
    async selectBlobBackup(input: BackupSelector & { host: string; kind: BackupKindName }): Promise<BackupSummary & { resource: { type: string; id: string; name: string } }> {
      const driver = deps.openStorage(input.storage);
      try {
        const manifests = (await listManifests(driver, { host: input.host, name: input.name }, cancellationSignal())).filter((m) => m.kind === input.kind);
        const chosen = selectRestorePoint(manifests.map(summarize), { timestamp: input.timestamp, fromDate: input.fromDate });
        if (!chosen.ok) throw new NoBackupFoundError(`${input.kind} backup ${input.host}_${input.name} in ${formatStorage(input.storage)}: ${chosen.reason}`);
        const m = manifests.find((x) => x.ref.timestamp === chosen.backup.ref.timestamp)!;
        // A server backup is a record only (its disks are blob backups of their own).
        if (!m.resource || (input.kind !== 'server' && !m.blob)) throw new CorruptBackupError(`backup ${input.host}_${input.name}/${m.ref.timestamp} has no ${input.kind} record`);
        // The key must fit before anything is created in OpenStack.
        await keyFor(m, input.encryption);
        return { ...summarize(m), resource: m.resource };
      } finally {
        await driver.close();
      }
    },

    /** The resource record stored in a backup's manifest. */
    async readBackupRecord(input: { storage: StorageTarget; ref: BackupRef }): Promise<VolumeRecord | ImageRecord> {
      const driver = deps.openStorage(input.storage);
      try {
        const m = await readManifest(driver, input.ref, cancellationSignal());
        if (!m?.resource) throw new NoBackupFoundError(`backup ${input.ref.host}_${input.ref.name}/${input.ref.timestamp} has no manifest or no resource record`);
        return m.resource as unknown as VolumeRecord | ImageRecord;
      } finally {
        await driver.close();
      }
    },

    /**
     * A new image holding a backup's bytes: created (tagged, with the given properties), uploaded from the storage
     * and waited for until active. A retry finds the image by name; one that is not `queued` any more is replaced.
     */
    async uploadBackupToImage(
      input: OpenStackPlace &
        BackupSelector & { ref: BackupRef; imageName: string; record: VolumeRecord | ImageRecord; temporary: boolean }
    ): Promise<{ imageId: string; size: number }> {
      const signal = cancellationSignal();
      return cloud(input, async (c) => {
        const wf = workflowId();
        const driver = deps.openStorage(input.storage);
        try {
          const manifest = await readManifest(driver, input.ref, signal);
          if (!manifest?.blob) throw new NoBackupFoundError(`backup ${input.ref.host}_${input.ref.name}/${input.ref.timestamp} is missing or not a volume/image backup`);
          const key = await keyFor(manifest, input.encryption);
          let image = await ownByName(c, 'image', input.imageName, wf);
          if (image && image.status === 'active') return { imageId: image.id, size: manifest.blob.size };
          if (image && image.status !== 'queued') {
            await deleteAndWait(kindOps(c, 'image'), 'image', image.id, waiting(input, 'delete'));
            image = undefined;
          }
          const tags = { ...temporaryTags(wf, now()), ...(input.temporary ? {} : { [TAG_RESTORE_INCOMPLETE]: 'true' }) };
          const imageId =
            image?.id ??
            (
              await c.glance.create(
                { ...imageCreateBody(input.record, input.temporary), name: input.imageName, ...(input.temporary ? { tags: [IMAGE_TAG] } : {}), ...tags },
                signal
              )
            ).id;
          const total = manifest.blob.size;
          let last = 0;
          const data = openBlob(driver, manifest, key, {
            signal,
            ...(input.bandwidthLimit !== undefined ? { bandwidthLimit: input.bandwidthLimit } : {}),
            onBytes: (bytes) => {
              if (Date.now() - last >= 1000) {
                last = Date.now();
                heartbeat({ phase: 'writing', files: 0, bytes, totalBytes: total, segment: 0, storedBytes: 0 });
              }
            },
          });
          const keepAlive = setInterval(() => heartbeat({ phase: 'writing', files: 0, bytes: 0, totalBytes: total, segment: 0, storedBytes: 0 }), 5000);
          try {
            await c.glance.upload(imageId, data, signal);
          } finally {
            clearInterval(keepAlive);
            data.destroy();
          }
          const active = await waitForStatus(`image ${imageId}`, () => c.glance.find(imageId, signal), ['active'], waiting(input, 'image'));
          if (active.size !== null && active.size !== total) throw new CorruptBackupError(`image ${imageId} holds ${active.size} bytes, the backup ${total}`);
          return { imageId, size: total };
        } finally {
          await driver.close();
        }
      });
    },

    /** Checks a restore target volume before anything is created: it exists, is detached and available, and is big enough. */
    async checkRestoreTarget(input: OpenStackPlace & { volumeId: string; bytes: number }): Promise<{ name: string; size: number }> {
      return cloud(input, async (c) => {
        const v = await c.cinder.findVolume(input.volumeId, cancellationSignal());
        if (!v) throw new InvalidInputError(`target volume ${input.volumeId} does not exist`);
        if (v.attachments.length > 0 || v.status !== 'available') {
          throw new ResourceStateError(`target volume ${input.volumeId} is ${v.status}${v.attachments.length > 0 ? ' and attached' : ''}; detach it first (it must be available)`);
        }
        if (v.size * 1024 ** 3 < input.bytes) throw new InvalidInputError(`target volume ${input.volumeId} has ${v.size} GiB; the backup needs ${Math.ceil(input.bytes / 1024 ** 3)} GiB`);
        return { name: v.name ?? '', size: v.size };
      });
    },

    /**
     * The restored volume, made from the image (name, size, type, AZ and metadata of the original). It carries
     * `permafrost_restore_incomplete` until `finishRestoredVolume`: the undo and the sweeper delete it only then.
     */
    async createVolumeFromImage(
      input: OpenStackPlace & { imageId: string; name: string; record: VolumeRecord; volumeType?: string; availabilityZone?: string }
    ): Promise<{ volumeId: string }> {
      return cloud(input, async (c) => {
        const wf = workflowId();
        const signal = cancellationSignal();
        const r = input.record;
        const existing = (await kindOps(c, 'volume').byName(input.name, signal)).find((v) => v.name === input.name && v.tags[TAG_WORKFLOW_ID] === wf);
        const volumeType = input.volumeType ?? r.volumeType ?? undefined;
        const az = input.availabilityZone ?? r.availabilityZone ?? undefined;
        const id =
          existing?.id ??
          (
            await c.cinder.createVolume(
              {
                name: input.name,
                size: r.size,
                imageRef: input.imageId,
                ...(volumeType ? { volume_type: volumeType } : {}),
                ...(az ? { availability_zone: az } : {}),
                ...(r.description ? { description: r.description } : {}),
                metadata: { ...r.metadata, ...temporaryTags(wf, now()), [TAG_RESTORE_INCOMPLETE]: 'true' },
              },
              signal
            )
          ).id;
        await waitForStatus(`restored volume ${id}`, () => c.cinder.findVolume(id, signal), ['available'], waiting(input, 'volume'));
        return { volumeId: id };
      });
    },

    /** Overwrites a detached volume with the image (Cinder os-reimage) and waits until it is available again. */
    async reimageVolume(input: OpenStackPlace & { volumeId: string; imageId: string }): Promise<void> {
      await cloud(input, async (c) => {
        const signal = cancellationSignal();
        const v = await c.cinder.getVolume(input.volumeId, signal);
        if (v.status === 'available' && v.metadata[`permafrost_reimaged_by`] === workflowId()) return; // an earlier attempt finished
        if (v.status === 'available') await c.cinder.reimage(input.volumeId, input.imageId, signal);
        await waitForStatus(`volume ${input.volumeId} (reimage)`, () => c.cinder.findVolume(input.volumeId, signal), ['available'], waiting(input, 'volume'));
        await c.cinder.setVolumeMetadata(input.volumeId, { permafrost_reimaged_by: workflowId() }, signal);
      });
    },

    /** Completes a restored volume: bootable flag, drops the incomplete marker (from now on, nothing deletes it). */
    async finishRestoredVolume(input: OpenStackPlace & { volumeId: string; bootable: boolean }): Promise<void> {
      await cloud(input, async (c) => {
        const signal = cancellationSignal();
        await c.cinder.setBootable(input.volumeId, input.bootable, signal);
        await c.cinder.deleteVolumeMetadataKey(input.volumeId, TAG_RESTORE_INCOMPLETE, signal);
      });
    },

    /** The volumes of a scope, oldest first; a listed id that does not exist fails before any backup starts. */
    async listVolumeIds(input: OpenStackPlace & { scope: VolumeScope }): Promise<string[]> {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        if (input.scope.kind === 'list') {
          const missing: string[] = [];
          for (const id of input.scope.volumeIds) if (!(await c.cinder.findVolume(id, signal))) missing.push(id);
          if (missing.length > 0) throw new InvalidInputError(`volumes not found: ${missing.join(', ')}`);
          return [...new Set(input.scope.volumeIds)];
        }
        const volumes = await c.cinder.listVolumes({ allTenants: input.scope.kind === 'all-tenants' }, signal);
        // Our own temporaries and unfinished restores are not backed up.
        return volumes.filter((v) => !(v.name ?? '').startsWith(TEMP_PREFIX) && v.metadata[TAG_RESTORE_INCOMPLETE] === undefined).map((v) => v.id);
      });
    },

    /** Reads an image and checks it can be backed up (active, has data). */
    async describeImage(input: OpenStackPlace & { imageId: string }): Promise<ImageRecord> {
      return cloud(input, async (c) => {
        const i = await c.glance.find(input.imageId, cancellationSignal());
        if (!i) throw new InvalidInputError(`image ${input.imageId} does not exist (or is not visible to ${c.session.description})`);
        if (i.status !== 'active') throw new ResourceStateError(`image ${input.imageId} is ${i.status}; only an active image can be backed up`);
        return imageRecord(i);
      });
    },

    /** Completes a restored image: drops the incomplete marker and protects it like the original (last: a protected image cannot be undone). */
    async finishRestoredImage(input: OpenStackPlace & { imageId: string; record: ImageRecord }): Promise<void> {
      await cloud(input, async (c) => {
        const signal = cancellationSignal();
        const image = await c.glance.get(input.imageId, signal);
        const ops: Parameters<typeof c.glance.patch>[1] = [];
        if (image[TAG_RESTORE_INCOMPLETE] !== undefined) ops.push({ op: 'remove', path: `/${TAG_RESTORE_INCOMPLETE}` });
        if (input.record.protected && !image.protected) ops.push({ op: 'replace', path: '/protected', value: true });
        if (ops.length > 0) await c.glance.patch(input.imageId, ops, signal);
      });
    },
  };
}

/**
 * The create body of an image holding a backup's bytes. A volume's: raw/bare with the volume's Glance metadata
 * (minus what Glance refuses), so the restored volume gets it back. An image's: everything the original had that a
 * user can set (formats, visibility, tags, min_disk/min_ram, custom properties); `protected` is set at the end.
 */
export function imageCreateBody(record: VolumeRecord | ImageRecord, temporary = false): Record<string, unknown> {
  if (record.type === 'image' && temporary) {
    // A server's disk on its way to a new server: only what booting needs (a snapshot's instance properties stay behind).
    return { disk_format: record.diskFormat ?? 'raw', container_format: record.containerFormat ?? 'bare', min_disk: record.minDisk, min_ram: record.minRam };
  }
  if (record.type === 'volume') {
    const props = Object.fromEntries(Object.entries(record.glanceMetadata).filter(([k]) => !NOT_SETTABLE.has(k) && !isPermafrostKey(k)));
    return { ...props, disk_format: record.dataFormat ?? 'raw', container_format: 'bare', min_disk: record.size };
  }
  return {
    ...record.properties,
    ...(record.diskFormat ? { disk_format: record.diskFormat } : {}),
    ...(record.containerFormat ? { container_format: record.containerFormat } : {}),
    visibility: record.visibility,
    tags: record.tags,
    min_disk: record.minDisk,
    min_ram: record.minRam,
  };
}

export type VolumeActivities = ReturnType<typeof createVolumeActivities>;
