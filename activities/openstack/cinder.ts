/**
 * A thin typed Cinder v3 client over the one session: volumes, snapshots, backups and the volume actions permafrost
 * uses. Every call names its microversion (`OpenStack-API-Version: volume 3.x`): 3.60 by default, higher ones only
 * for the calls that need them.
 */
import { listAllPages, ServiceApi } from './api';
import type { OpenStackSession } from './session';

/** Default microversion: backup metadata (3.43), volume/snapshot/backup filters, `created_at` filters (3.60). */
export const CINDER_MICROVERSION = '3.60';
/** `os-reimage` (overwrite a volume with an image) arrived in 3.68 (Zed). */
export const CINDER_REIMAGE_MICROVERSION = '3.68';

export interface CinderAttachment {
  id?: string;
  attachment_id?: string;
  server_id?: string;
  device?: string;
}

export interface CinderVolume {
  id: string;
  name: string | null;
  status: string;
  size: number;
  volume_type: string | null;
  availability_zone: string | null;
  bootable: string;
  encrypted?: boolean;
  multiattach?: boolean;
  description: string | null;
  metadata: Record<string, string>;
  volume_image_metadata?: Record<string, string>;
  attachments: CinderAttachment[];
  snapshot_id?: string | null;
  source_volid?: string | null;
  created_at: string;
  'os-vol-tenant-attr:tenant_id'?: string;
}

export interface CinderSnapshot {
  id: string;
  name: string | null;
  status: string;
  volume_id: string;
  size: number;
  metadata: Record<string, string>;
  created_at: string;
  description?: string | null;
}

export interface CinderBackup {
  id: string;
  name: string | null;
  status: string;
  volume_id: string;
  size: number;
  is_incremental: boolean;
  has_dependent_backups: boolean;
  container?: string | null;
  created_at: string;
  data_timestamp?: string;
  snapshot_id?: string | null;
  description?: string | null;
  fail_reason?: string | null;
  metadata?: Record<string, string>;
}

export interface ListFilter {
  name?: string;
  volume_id?: string;
  status?: string;
  /** Admin only: every project's resources. */
  allTenants?: boolean;
}

/** A listing's `<kind>_links`: a `next` link when the service has more than it returned. */
type Links<K extends string> = { [key in K]?: { rel: string; href: string }[] };

function hasNext(links: { rel: string }[] | undefined): boolean {
  return (links ?? []).some((l) => l.rel === 'next');
}

function listQuery(filter: ListFilter, marker: string | undefined, limit: number): Record<string, string | number | undefined> {
  const { allTenants, ...rest } = filter;
  return { ...rest, ...(allTenants ? { all_tenants: 1 } : {}), marker, limit, sort: 'created_at:asc' };
}

export class CinderClient {
  private readonly api: ServiceApi;

  constructor(session: OpenStackSession, microversion = CINDER_MICROVERSION) {
    this.api = new ServiceApi(session, 'volumev3', { 'openstack-api-version': `volume ${microversion}` });
  }

  // -- volumes ------------------------------------------------------------------------------------------------

  async getVolume(id: string, signal?: AbortSignal): Promise<CinderVolume> {
    return (await this.api.json<{ volume: CinderVolume }>('GET', `/volumes/${encodeURIComponent(id)}`, `get volume ${id}`, { signal })).volume;
  }

  async findVolume(id: string, signal?: AbortSignal): Promise<CinderVolume | undefined> {
    return (await this.api.jsonOrMissing<{ volume: CinderVolume }>('GET', `/volumes/${encodeURIComponent(id)}`, `get volume ${id}`, { signal }))?.volume;
  }

  async listVolumes(filter: ListFilter = {}, signal?: AbortSignal): Promise<CinderVolume[]> {
    return listAllPages(async (marker, limit) => {
      const page = await this.api.json<{ volumes: CinderVolume[] } & Links<'volumes_links'>>('GET', '/volumes/detail', 'list volumes', { signal, query: listQuery(filter, marker, limit) });
      return { items: page.volumes, next: hasNext(page.volumes_links) };
    });
  }

  async createVolume(body: Record<string, unknown>, signal?: AbortSignal): Promise<CinderVolume> {
    return (await this.api.json<{ volume: CinderVolume }>('POST', '/volumes', `create volume ${typeof body.name === 'string' ? body.name : ''}`, { body: { volume: body }, signal })).volume;
  }

  /** Deletes the volume; false when it was already gone (404 = done). */
  async deleteVolume(id: string, signal?: AbortSignal): Promise<boolean> {
    return this.api.noContent('DELETE', `/volumes/${encodeURIComponent(id)}`, `delete volume ${id}`, { signal, missingOk: true });
  }

  /** Creates a Glance image from the volume (`os-volume_upload_image`); returns the new image's id. */
  async uploadToImage(
    id: string,
    opts: { imageName: string; diskFormat?: string; containerFormat?: string; force?: boolean; visibility?: string },
    signal?: AbortSignal
  ): Promise<{ imageId: string }> {
    const body = {
      'os-volume_upload_image': {
        image_name: opts.imageName,
        disk_format: opts.diskFormat ?? 'raw',
        container_format: opts.containerFormat ?? 'bare',
        force: opts.force ?? false,
        visibility: opts.visibility ?? 'private',
      },
    };
    const res = await this.api.json<{ 'os-volume_upload_image': { image_id: string } }>('POST', `/volumes/${encodeURIComponent(id)}/action`, `upload volume ${id} to an image`, { body, signal });
    return { imageId: res['os-volume_upload_image'].image_id };
  }

  /** Overwrites a detached volume with an image (`os-reimage`, microversion 3.68). */
  async reimage(id: string, imageId: string, signal?: AbortSignal): Promise<void> {
    await this.api.noContent('POST', `/volumes/${encodeURIComponent(id)}/action`, `reimage volume ${id} from image ${imageId}`, {
      body: { 'os-reimage': { image_id: imageId, reimage_reserved: false } },
      headers: { 'openstack-api-version': `volume ${CINDER_REIMAGE_MICROVERSION}` },
      signal,
    });
  }

  async setBootable(id: string, bootable: boolean, signal?: AbortSignal): Promise<void> {
    await this.api.noContent('POST', `/volumes/${encodeURIComponent(id)}/action`, `set bootable of volume ${id}`, { body: { 'os-set_bootable': { bootable } }, signal });
  }

  /** Adds or replaces metadata keys (others stay). */
  async setVolumeMetadata(id: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<void> {
    await this.api.noContent('POST', `/volumes/${encodeURIComponent(id)}/metadata`, `set metadata of volume ${id}`, { body: { metadata }, signal });
  }

  async deleteVolumeMetadataKey(id: string, key: string, signal?: AbortSignal): Promise<void> {
    await this.api.noContent('DELETE', `/volumes/${encodeURIComponent(id)}/metadata/${encodeURIComponent(key)}`, `delete metadata ${key} of volume ${id}`, { signal, missingOk: true });
  }

  // -- snapshots ----------------------------------------------------------------------------------------------

  async findSnapshot(id: string, signal?: AbortSignal): Promise<CinderSnapshot | undefined> {
    return (await this.api.jsonOrMissing<{ snapshot: CinderSnapshot }>('GET', `/snapshots/${encodeURIComponent(id)}`, `get snapshot ${id}`, { signal }))?.snapshot;
  }

  async listSnapshots(filter: ListFilter = {}, signal?: AbortSignal): Promise<CinderSnapshot[]> {
    return listAllPages(async (marker, limit) => {
      const page = await this.api.json<{ snapshots: CinderSnapshot[] } & Links<'snapshots_links'>>('GET', '/snapshots/detail', 'list snapshots', { signal, query: listQuery(filter, marker, limit) });
      return { items: page.snapshots, next: hasNext(page.snapshots_links) };
    });
  }

  /** `force` snapshots an in-use volume (crash-consistent). */
  async createSnapshot(body: { volume_id: string; name: string; description?: string; force?: boolean; metadata?: Record<string, string> }, signal?: AbortSignal): Promise<CinderSnapshot> {
    return (await this.api.json<{ snapshot: CinderSnapshot }>('POST', '/snapshots', `snapshot volume ${body.volume_id}`, { body: { snapshot: body }, signal })).snapshot;
  }

  /** Adds or replaces metadata keys of a snapshot (others stay). */
  async setSnapshotMetadata(id: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<void> {
    await this.api.noContent('POST', `/snapshots/${encodeURIComponent(id)}/metadata`, `set metadata of snapshot ${id}`, { body: { metadata }, signal });
  }

  async deleteSnapshot(id: string, signal?: AbortSignal): Promise<boolean> {
    return this.api.noContent('DELETE', `/snapshots/${encodeURIComponent(id)}`, `delete snapshot ${id}`, { signal, missingOk: true });
  }

  // -- backups (Cinder's own backup service) ------------------------------------------------------------------

  async findBackup(id: string, signal?: AbortSignal): Promise<CinderBackup | undefined> {
    return (await this.api.jsonOrMissing<{ backup: CinderBackup }>('GET', `/backups/${encodeURIComponent(id)}`, `get backup ${id}`, { signal }))?.backup;
  }

  async listBackups(filter: ListFilter = {}, signal?: AbortSignal): Promise<CinderBackup[]> {
    return listAllPages(async (marker, limit) => {
      const page = await this.api.json<{ backups: CinderBackup[] } & Links<'backups_links'>>('GET', '/backups/detail', 'list backups', { signal, query: listQuery(filter, marker, limit) });
      return { items: page.backups, next: hasNext(page.backups_links) };
    });
  }

  async createBackup(
    body: { volume_id: string; name: string; description?: string; incremental?: boolean; force?: boolean; container?: string; metadata?: Record<string, string> },
    signal?: AbortSignal
  ): Promise<{ id: string }> {
    return (await this.api.json<{ backup: { id: string } }>('POST', '/backups', `back up volume ${body.volume_id} (cinder backup)`, { body: { backup: body }, signal })).backup;
  }

  async deleteBackup(id: string, signal?: AbortSignal): Promise<boolean> {
    return this.api.noContent('DELETE', `/backups/${encodeURIComponent(id)}`, `delete backup ${id}`, { signal, missingOk: true });
  }

  /** Restores into `volumeId`, or into a new volume named `name`; returns the volume restored into. */
  async restoreBackup(id: string, opts: { volumeId?: string; name?: string }, signal?: AbortSignal): Promise<{ volumeId: string }> {
    const body = { restore: { ...(opts.volumeId ? { volume_id: opts.volumeId } : {}), ...(opts.name ? { name: opts.name } : {}) } };
    const res = await this.api.json<{ restore: { volume_id: string } }>('POST', `/backups/${encodeURIComponent(id)}/restore`, `restore backup ${id}`, { body, signal });
    return { volumeId: res.restore.volume_id };
  }
}
