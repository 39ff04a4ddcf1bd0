/** A thin typed Glance v2 client over the one session: images, their data, properties and tags. */
import type { Readable } from 'node:stream';
import { listAllPages, ServiceApi } from './api';
import type { OpenStackSession } from './session';

/** Image statuses (Glance v2). `killed` and `deactivated` are failures for our purposes. */
export type ImageStatus = 'queued' | 'saving' | 'uploading' | 'importing' | 'active' | 'killed' | 'deleted' | 'pending_delete' | 'deactivated';

export interface GlanceImage {
  id: string;
  name: string | null;
  /** An ImageStatus (Glance may add more). */
  status: string;
  size: number | null;
  virtual_size?: number | null;
  disk_format: string | null;
  container_format: string | null;
  visibility: string;
  protected: boolean;
  tags: string[];
  min_disk: number;
  min_ram: number;
  owner: string | null;
  checksum?: string | null;
  os_hash_algo?: string | null;
  os_hash_value?: string | null;
  created_at: string;
  updated_at?: string;
  /** Custom properties (and the few core ones not listed above) are top-level strings in Glance v2. */
  [property: string]: unknown;
}

/** Fields Glance manages itself: they are never sent back when an image is re-created from a backup. */
export const GLANCE_READONLY_FIELDS = new Set([
  'id',
  'status',
  'size',
  'virtual_size',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'created_at',
  'updated_at',
  'owner',
  'file',
  'schema',
  'self',
  'direct_url',
  'locations',
  'stores',
  'os_glance_failed_import',
  'os_glance_importing_to_stores',
  'os_glance_import_task',
]);

export interface ImageFilter {
  name?: string;
  tag?: string;
  owner?: string;
  status?: string;
  /** `all` lists every image the caller may see (not only the project's). */
  visibility?: 'public' | 'private' | 'shared' | 'community' | 'all';
}

export class GlanceClient {
  private readonly api: ServiceApi;

  constructor(session: OpenStackSession) {
    this.api = new ServiceApi(session, 'image');
  }

  async get(id: string, signal?: AbortSignal): Promise<GlanceImage> {
    return this.api.json<GlanceImage>('GET', `/v2/images/${encodeURIComponent(id)}`, `get image ${id}`, { signal });
  }

  /** The image, or undefined when it does not exist (deleted images answer 404 in Glance v2). */
  async find(id: string, signal?: AbortSignal): Promise<GlanceImage | undefined> {
    return this.api.jsonOrMissing<GlanceImage>('GET', `/v2/images/${encodeURIComponent(id)}`, `get image ${id}`, { signal });
  }

  async list(filter: ImageFilter, signal?: AbortSignal): Promise<GlanceImage[]> {
    return listAllPages(async (marker, limit) => {
      const page = await this.api.json<{ images: GlanceImage[]; next?: string }>('GET', '/v2/images', 'list images', {
        signal,
        query: { ...filter, marker, limit, sort_key: 'created_at', sort_dir: 'asc' },
      });
      return { items: page.images, next: page.next !== undefined };
    });
  }

  /** Creates an image record (status queued); custom properties are plain string fields of `body`. */
  async create(body: Record<string, unknown>, signal?: AbortSignal): Promise<GlanceImage> {
    return this.api.json<GlanceImage>('POST', '/v2/images', `create image ${typeof body.name === 'string' ? body.name : ''}`, { body, signal });
  }

  /** A JSON-patch update (`add` also replaces; removing a missing property is a 409). */
  async patch(id: string, ops: { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown }[], signal?: AbortSignal): Promise<GlanceImage> {
    return this.api.json<GlanceImage>('PATCH', `/v2/images/${encodeURIComponent(id)}`, `update image ${id}`, {
      body: ops,
      contentType: 'application/openstack-images-v2.1-json-patch',
      signal,
    });
  }

  /** Sets string properties. */
  async setProperties(id: string, set: Record<string, string>, signal?: AbortSignal): Promise<GlanceImage> {
    return this.patch(id, Object.entries(set).map(([k, v]) => ({ op: 'add' as const, path: `/${k}`, value: v })), signal);
  }

  /** Uploads the image data in one PUT, streamed (Glance takes it to `active` when the body ends). */
  async upload(id: string, data: Readable, signal?: AbortSignal): Promise<void> {
    await this.api.noContent('PUT', `/v2/images/${encodeURIComponent(id)}/file`, `upload data of image ${id}`, { raw: data, signal });
  }

  /** The image data as a stream, with its length when Glance tells it. */
  async download(id: string, signal?: AbortSignal): Promise<{ body: Readable; size?: number }> {
    const what = `download data of image ${id}`;
    const res = await this.api.session.throwForStatus(await this.api.send('GET', `/v2/images/${encodeURIComponent(id)}/file`, what, { signal, headers: { accept: '*/*' } }), what);
    const length = Number(res.header('content-length'));
    return { body: res.body, ...(Number.isFinite(length) && res.header('content-length') !== undefined ? { size: length } : {}) };
  }

  /** Deletes the image; false when it was already gone (404 = done). */
  async delete(id: string, signal?: AbortSignal): Promise<boolean> {
    return this.api.noContent('DELETE', `/v2/images/${encodeURIComponent(id)}`, `delete image ${id}`, { signal, missingOk: true });
  }
}
