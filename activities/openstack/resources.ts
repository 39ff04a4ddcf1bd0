/**
 * The temporaries of one kind (image, volume, snapshot, Cinder backup) behind one interface: look up by name, by
 * id, delete (404 = done), the states in which a delete must wait, and the states that mean "gone".
 * Deleting always waits until the resource is really gone, so the next undo (the volume a snapshot carries, the
 * snapshot under a volume) never runs into a dependency.
 */
import { stringProps } from './api';
import type { OpenStackClients } from './clients';
import { waitGone, waitSettled } from './wait';
import type { WaitOptions } from './wait';

export type ResourceKind = 'image' | 'volume' | 'snapshot' | 'backup' | 'server';

export interface ResourceView {
  id: string;
  name: string;
  status: string;
  /** Metadata (Cinder) or properties (Glance) as strings. */
  tags: Record<string, string>;
  createdAt: string;
}

interface KindOps {
  byName(name: string, signal?: AbortSignal): Promise<ResourceView[]>;
  byId(id: string, signal?: AbortSignal): Promise<ResourceView | undefined>;
  remove(id: string, signal?: AbortSignal): Promise<boolean>;
  /** A delete is refused (or would break a running operation) while in these states. */
  busy: readonly string[];
}


export function kindOps(c: OpenStackClients, kind: ResourceKind, allTenants = false): KindOps {
  switch (kind) {
    case 'image': {
      const view = (i: Awaited<ReturnType<OpenStackClients['glance']['get']>>): ResourceView => ({
        id: i.id,
        name: i.name ?? '',
        status: i.status,
        tags: stringProps(i),
        createdAt: i.created_at,
      });
      return {
        byName: async (name, signal) => (await c.glance.list({ name }, signal)).map(view),
        byId: async (id, signal) => {
          const i = await c.glance.find(id, signal);
          return i && i.status !== 'deleted' ? view(i) : undefined;
        },
        remove: (id, signal) => c.glance.delete(id, signal),
        // An image being uploaded by Cinder can be deleted: Cinder's upload then fails and frees the volume.
        busy: [],
      };
    }
    case 'volume': {
      const view = (v: Awaited<ReturnType<OpenStackClients['cinder']['getVolume']>>): ResourceView => ({
        id: v.id,
        name: v.name ?? '',
        status: v.status,
        tags: v.metadata,
        createdAt: v.created_at,
      });
      return {
        byName: async (name, signal) => (await c.cinder.listVolumes({ name, allTenants }, signal)).map(view),
        byId: async (id, signal) => {
          const v = await c.cinder.findVolume(id, signal);
          return v ? view(v) : undefined;
        },
        remove: (id, signal) => c.cinder.deleteVolume(id, signal),
        busy: ['creating', 'downloading', 'uploading', 'attaching', 'detaching', 'backing-up', 'restoring-backup', 'extending', 'reserved', 'maintenance', 'retyping', 'awaiting-transfer'],
      };
    }
    case 'snapshot': {
      const view = (s: Awaited<ReturnType<OpenStackClients['cinder']['listSnapshots']>>[number]): ResourceView => ({
        id: s.id,
        name: s.name ?? '',
        status: s.status,
        tags: s.metadata,
        createdAt: s.created_at,
      });
      return {
        byName: async (name, signal) => (await c.cinder.listSnapshots({ name, allTenants }, signal)).map(view),
        byId: async (id, signal) => {
          const s = await c.cinder.findSnapshot(id, signal);
          return s ? view(s) : undefined;
        },
        remove: (id, signal) => c.cinder.deleteSnapshot(id, signal),
        busy: ['creating', 'backing-up', 'unmanaging'],
      };
    }
    case 'backup': {
      const view = (b: Awaited<ReturnType<OpenStackClients['cinder']['listBackups']>>[number]): ResourceView => ({
        id: b.id,
        name: b.name ?? '',
        status: b.status,
        tags: b.metadata ?? {},
        createdAt: b.created_at,
      });
      return {
        byName: async (name, signal) => (await c.cinder.listBackups({ name, allTenants }, signal)).map(view),
        byId: async (id, signal) => {
          const b = await c.cinder.findBackup(id, signal);
          return b ? view(b) : undefined;
        },
        remove: (id, signal) => c.cinder.deleteBackup(id, signal),
        busy: ['creating', 'restoring'],
      };
    }
    case 'server': {
      const view = (v: Awaited<ReturnType<OpenStackClients['nova']['getServer']>>): ResourceView => ({
        id: v.id,
        name: v.name,
        status: v.status,
        tags: v.metadata,
        createdAt: v.created,
      });
      return {
        byName: async (name, signal) => (await c.nova.listServers({ name, allTenants }, signal)).map(view),
        byId: async (id, signal) => {
          const v = await c.nova.findServer(id, signal);
          return v && v.status !== 'DELETED' ? view(v) : undefined;
        },
        remove: (id, signal) => c.nova.deleteServer(id, signal),
        // Nova deletes a server in any state, a building one included.
        busy: [],
      };
    }
  }
}

/**
 * Deletes one resource and waits until it is gone: first waits out a busy state (a snapshot still `creating`, a
 * volume still `uploading`), then deletes (404 = done), then polls until it is gone.
 */
export async function deleteAndWait(ops: KindOps, kind: ResourceKind, id: string, opts: WaitOptions): Promise<boolean> {
  const what = `${kind} ${id}`;
  const settled = await waitSettled(`delete ${what}: waiting for it to leave a busy state`, () => ops.byId(id, opts.signal), ops.busy, opts);
  if (!settled) return false;
  // A delete already under way (sent by an earlier attempt): Cinder refuses a second one (400), so only wait for it.
  const existed = settled.status.toLowerCase() === 'deleting' ? true : await ops.remove(id, opts.signal);
  await waitGone(`delete ${what}`, () => ops.byId(id, opts.signal), opts);
  return existed;
}
