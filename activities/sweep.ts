/**
 * The orphan sweeper's node activities. A workflow's undo deletes its temporaries on success, failure and cancel;
 * a terminated workflow (or a worker dead for longer than the undo retries) leaves them behind. These activities
 * find what permafrost left (temporaries by tag, or an untagged Glance image by its name; restored volumes and
 * images still marked incomplete) and delete it in dependency order. Which of those belong to a workflow that still
 * runs is asked of Temporal by the central activity `runningWorkflows` in between (activities/central.ts).
 *
 * Nothing without permafrost's evidence is ever touched: a Cinder resource needs the workflow tag (permafrost sets
 * it in the create call itself), an image either the tag or a temporary's full name (Cinder's upload-to-image cannot
 * tag the image it makes: a worker that died in between leaves it untagged).
 */
import { cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { TAG_CREATED_AT, TAG_RESTORE_INCOMPLETE, TAG_WORKFLOW_ID, TEMP_PREFIX } from '../workflows/shared/temporaries';
import type { OpenStackPlace, SweepInput, SweptResource } from '../workflows/shared/openstack-types';
import { parseServiceTime, ServiceApi, stringProps } from './openstack/api';
import { OpenStackError } from './openstack/errors';
import { cloudRunner, DEFAULT_TIMEOUTS } from './openstack/steps';
import type { ConnectCloud, OpenStackClients } from './openstack/clients';
import { deleteAndWait, kindOps } from './openstack/resources';
import type { ResourceKind } from './openstack/resources';
import { waitGone } from './openstack/wait';
import type { WaitOptions } from './openstack/wait';

export interface SweepActivityDeps {
  /** Default: clouds.yaml / OS_* of this worker (tests inject fakes). */
  connectCloud?: ConnectCloud;
}

/** Default grace period: a resource younger than this may belong to a step that is creating it right now. */
export const DEFAULT_SWEEP_GRACE_MS = 60 * 60_000;

/** The step suffixes of temporary names (`permafrost-tmp-<workflowId>-<step>`). */
const TEMP_STEPS = ['snapshot', 'volume', 'image'] as const;

/** A resource as the sweeper judges it. */
export interface SweepView {
  kind: ResourceKind;
  id: string;
  name: string;
  status: string;
  /** Cinder metadata or Glance properties (strings only). */
  tags: Record<string, string>;
  createdAt: string;
  /** Volume: the snapshot it was made from. */
  snapshotId?: string;
  /** Snapshot, backup: the volume it belongs to. */
  volumeId?: string;
}

/** The workflow id in a temporary's name, when the name is exactly `permafrost-tmp-<workflowId>-<snapshot|volume|image>`. */
export function workflowIdFromName(name: string): string | undefined {
  if (!name.startsWith(TEMP_PREFIX)) return undefined;
  const rest = name.slice(TEMP_PREFIX.length);
  for (const step of TEMP_STEPS) {
    const suffix = `-${step}`;
    if (rest.endsWith(suffix) && rest.length > suffix.length) return rest.slice(0, -suffix.length);
  }
  return undefined;
}

/**
 * The workflow that left this resource, or undefined when it is not a permafrost orphan candidate: a temporary
 * (temporary name) or an unfinished restore (incomplete marker), tagged with its workflow id; or an untagged image
 * with a temporary's full name. A finished restore keeps its workflow tag but not the marker: never a candidate.
 */
export function orphanWorkflowId(r: Pick<SweepView, 'kind' | 'name' | 'tags'>): string | undefined {
  const temporary = r.name.startsWith(TEMP_PREFIX);
  const incomplete = r.tags[TAG_RESTORE_INCOMPLETE] !== undefined;
  if (!temporary && !incomplete) return undefined;
  const tagged = r.tags[TAG_WORKFLOW_ID];
  if (tagged !== undefined && tagged !== '') return tagged;
  // Cinder resources are tagged in their create call: an untagged one was not made by permafrost.
  if (r.kind === 'image' && temporary) return workflowIdFromName(r.name);
  return undefined;
}


/** The candidates among `views`: with evidence, old enough, and (optionally) of workflows with the given id prefix. */
export function selectCandidates(views: readonly SweepView[], opts: { now: number; graceMs: number; workflowIdPrefix?: string }): SweptResource[] {
  const out: SweptResource[] = [];
  for (const v of views) {
    const workflowId = orphanWorkflowId(v);
    if (workflowId === undefined) continue;
    if (opts.workflowIdPrefix !== undefined && !workflowId.startsWith(opts.workflowIdPrefix)) continue;
    const created = parseServiceTime(v.createdAt) ?? parseServiceTime(v.tags[TAG_CREATED_AT]);
    if (created === undefined || opts.now - created < opts.graceMs) continue;
    out.push({ kind: v.kind, id: v.id, name: v.name, workflowId, createdAt: v.createdAt });
  }
  return out;
}

const RANK: Record<ResourceKind, number> = { server: 0, image: 1, volume: 2, snapshot: 3, backup: 4 };

const keyOf = (r: { kind: ResourceKind; id: string }): string => `${r.kind}:${r.id}`;

/**
 * Deletion order: images (an image Cinder is still uploading holds its volume), then volumes and snapshots (a
 * volume made from a snapshot before that snapshot, a snapshot of a volume before that volume, else volumes first),
 * then Cinder backups, newest first (an incremental one before the backup it builds on). Returns, per resource, the
 * resources that must be gone before it.
 */
export function deletionOrder<T extends SweepView>(views: readonly T[]): { order: T[]; before: Map<string, string[]> } {
  const keys = new Set(views.map(keyOf));
  const before = new Map<string, string[]>(views.map((v) => [keyOf(v), []]));
  const edge = (first: string, then: string): void => {
    if (keys.has(first) && keys.has(then) && first !== then) before.get(then)?.push(first);
  };
  for (const v of views) {
    if (v.kind === 'volume' && v.snapshotId) edge(keyOf(v), `snapshot:${v.snapshotId}`);
    if (v.kind === 'snapshot' && v.volumeId) edge(keyOf(v), `volume:${v.volumeId}`);
  }
  const sorted = [...views].sort((a, b) => {
    if (RANK[a.kind] !== RANK[b.kind]) return RANK[a.kind] - RANK[b.kind];
    // Newest first: an incremental backup is always younger than its parent.
    return (parseServiceTime(b.createdAt) ?? 0) - (parseServiceTime(a.createdAt) ?? 0);
  });
  const order: T[] = [];
  const placed = new Set<string>();
  while (sorted.length > 0) {
    // The first (by rank) whose predecessors are placed; a cycle (impossible in Cinder) falls back to rank order.
    let i = sorted.findIndex((v) => (before.get(keyOf(v)) ?? []).every((k) => placed.has(k)));
    if (i < 0) i = 0;
    const [next] = sorted.splice(i, 1);
    if (next === undefined) break;
    order.push(next);
    placed.add(keyOf(next));
  }
  return { order, before };
}


/** States in which the resource is already being deleted: wait until it is gone instead of deleting it again. */
const DELETING = new Set(['deleting', 'pending_delete', 'deleted']);

/**
 * The id of the project the credentials are scoped to (Glance lists an admin's images of every project with
 * `visibility=all` only, but a member also sees other projects' public images: the sweep keeps its own).
 */
async function scopedProjectId(c: OpenStackClients, signal: AbortSignal): Promise<string | undefined> {
  const config = c.session.config;
  if (config.projectId !== undefined) return config.projectId;
  if (config.projectName === undefined) return undefined;
  const identity = new ServiceApi(c.session, 'identity');
  const base = await c.session.endpoint('identity', signal);
  const path = /\/v3\/?$/.test(base) ? '/auth/projects' : '/v3/auth/projects';
  const { projects } = await identity.json<{ projects: { id: string; name: string; domain_id: string }[] }>('GET', path, 'list the projects of the token', { signal });
  let named = projects.filter((p) => p.name === config.projectName);
  if (named.length > 1 && config.projectDomainId !== undefined) named = named.filter((p) => p.domain_id === config.projectDomainId);
  return named.length === 1 ? named[0]?.id : undefined;
}

export interface SweepActivities {
  /** Resources permafrost left (temporaries, unfinished restores) older than the grace period; no Temporal check yet. */
  findOrphanCandidates(input: SweepInput): Promise<SweptResource[]>;
  /**
   * Deletes the given candidates in dependency order, each re-checked right before (still there, still the same
   * workflow's), each waited for until gone. A resource that cannot be deleted is reported, not thrown; one that is
   * already gone counts as deleted (a retry of this activity deletes nothing twice).
   */
  deleteOrphans(input: OpenStackPlace & { allTenants?: boolean; resources: SweptResource[] }): Promise<{ deleted: SweptResource[]; skipped: (SweptResource & { reason: string })[] }>;
}

export function createSweepActivities(deps: SweepActivityDeps = {}): SweepActivities {
  const cloud = cloudRunner(deps.connectCloud);

  const beat = (status: string, done: number): void => heartbeat({ phase: 'waiting', status, files: done, bytes: 0, segment: 0, storedBytes: 0 });

  /** Every resource of one kind in scope. */
  const list = async (c: OpenStackClients, kind: ResourceKind, allTenants: boolean, signal: AbortSignal): Promise<SweepView[]> => {
    switch (kind) {
      case 'image': {
        let images;
        if (allTenants) images = await c.glance.list({ visibility: 'all' }, signal);
        else {
          const owner = await scopedProjectId(c, signal).catch((err: unknown) => {
            log.warn('sweep: cannot tell the project id; images of other projects the caller sees may be candidates', { error: err instanceof Error ? err.message : String(err) });
            return undefined;
          });
          images = (await c.glance.list(owner !== undefined ? { owner } : {}, signal)).filter((i) => owner === undefined || i.owner === owner);
        }
        return images.filter((i) => i.status !== 'deleted').map((i) => ({ kind, id: i.id, name: i.name ?? '', status: i.status, tags: stringProps(i), createdAt: i.created_at }));
      }
      case 'volume':
        return (await c.cinder.listVolumes({ allTenants }, signal)).map((v) => ({
          kind,
          id: v.id,
          name: v.name ?? '',
          status: v.status,
          tags: v.metadata ?? {},
          createdAt: v.created_at,
          ...(v.snapshot_id ? { snapshotId: v.snapshot_id } : {}),
        }));
      case 'snapshot':
        return (await c.cinder.listSnapshots({ allTenants }, signal)).map((s) => ({
          kind,
          id: s.id,
          name: s.name ?? '',
          status: s.status,
          tags: s.metadata ?? {},
          createdAt: s.created_at,
          volumeId: s.volume_id,
        }));
      case 'server':
        try {
          return (await c.nova.listServers({ allTenants }, signal)).map((v) => ({ kind, id: v.id, name: v.name, status: v.status, tags: v.metadata, createdAt: v.created }));
        } catch (err) {
          if (err instanceof OpenStackError && err.kind === 'Config') return []; // a cloud without Nova
          throw err;
        }
      case 'backup':
        return (await c.cinder.listBackups({ allTenants }, signal)).map((b) => ({
          kind,
          id: b.id,
          name: b.name ?? '',
          status: b.status,
          tags: b.metadata ?? {},
          createdAt: b.created_at,
          volumeId: b.volume_id,
        }));
    }
  };

  /** One resource as it is now, or undefined when it is gone. */
  const lookup = async (c: OpenStackClients, kind: ResourceKind, id: string, signal: AbortSignal): Promise<SweepView | undefined> => {
    switch (kind) {
      case 'image': {
        const i = await c.glance.find(id, signal);
        return i && i.status !== 'deleted' ? { kind, id, name: i.name ?? '', status: i.status, tags: stringProps(i), createdAt: i.created_at } : undefined;
      }
      case 'volume': {
        const v = await c.cinder.findVolume(id, signal);
        return v ? { kind, id, name: v.name ?? '', status: v.status, tags: v.metadata ?? {}, createdAt: v.created_at, ...(v.snapshot_id ? { snapshotId: v.snapshot_id } : {}) } : undefined;
      }
      case 'snapshot': {
        const s = await c.cinder.findSnapshot(id, signal);
        return s ? { kind, id, name: s.name ?? '', status: s.status, tags: s.metadata ?? {}, createdAt: s.created_at, volumeId: s.volume_id } : undefined;
      }
      case 'server': {
        const v = await c.nova.findServer(id, signal);
        return v && v.status !== 'DELETED' ? { kind, id, name: v.name, status: v.status, tags: v.metadata, createdAt: v.created } : undefined;
      }
      case 'backup': {
        const b = await c.cinder.findBackup(id, signal);
        return b ? { kind, id, name: b.name ?? '', status: b.status, tags: b.metadata ?? {}, createdAt: b.created_at, volumeId: b.volume_id } : undefined;
      }
    }
  };

  return {
    async findOrphanCandidates(input) {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        const allTenants = input.allTenants ?? false;
        const views: SweepView[] = [];
        for (const kind of ['server', 'image', 'volume', 'snapshot', 'backup'] as const) {
          views.push(...(await list(c, kind, allTenants, signal)));
          beat(`listed ${kind}s`, views.length);
        }
        const found = selectCandidates(views, {
          now: Date.now(),
          graceMs: input.graceMs ?? DEFAULT_SWEEP_GRACE_MS,
          ...(input.workflowIdPrefix !== undefined ? { workflowIdPrefix: input.workflowIdPrefix } : {}),
        });
        log.info('sweep: orphan candidates', { scanned: views.length, candidates: found.length });
        return found;
      });
    },

    async deleteOrphans(input) {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        const deleted: SweptResource[] = [];
        const skipped: (SweptResource & { reason: string })[] = [];
        let done = 0;
        const wait: WaitOptions = {
          timeoutMs: input.timeouts?.delete ?? DEFAULT_TIMEOUTS.delete,
          signal,
          onPoll: (status) => beat(status ?? 'gone', done),
        };

        // Read every candidate first: its relations give the order, and what is already gone is done.
        const current: (SweepView & { candidate: SweptResource })[] = [];
        for (const r of input.resources) {
          const now = await lookup(c, r.kind, r.id, signal);
          if (now === undefined) deleted.push(r);
          else current.push({ ...now, candidate: r });
        }
        const { order, before } = deletionOrder(current);
        const failed = new Map<string, string>();

        for (const item of order) {
          const r = item.candidate;
          const what = `${r.kind} ${r.id}`;
          beat(`deleting ${what}`, done);
          const blocker = (before.get(keyOf(item)) ?? []).find((k) => failed.has(k));
          if (blocker !== undefined) {
            const reason = `not deleted: ${blocker.replace(':', ' ')}, which depends on it, could not be deleted`;
            skipped.push({ ...r, reason });
            failed.set(keyOf(item), reason);
            continue;
          }
          try {
            // Re-check right before deleting: still there, still the same workflow's orphan.
            const now = await lookup(c, r.kind, r.id, signal);
            if (now === undefined) {
              deleted.push(r);
            } else if (orphanWorkflowId(now) !== r.workflowId || now.createdAt !== r.createdAt) {
              const reason = 'no longer an orphan of this workflow (its tags or name changed)';
              skipped.push({ ...r, reason });
              failed.set(keyOf(item), reason);
            } else {
              if (DELETING.has(now.status.toLowerCase())) await waitGone(`delete ${what}`, () => lookup(c, r.kind, r.id, signal), wait);
              else await deleteAndWait(kindOps(c, r.kind, input.allTenants ?? false), r.kind, r.id, wait);
              deleted.push(r);
              log.info('sweep: orphan deleted', { kind: r.kind, id: r.id, name: r.name, workflowId: r.workflowId });
            }
          } catch (err) {
            if (signal.aborted) throw err;
            const reason = `delete failed: ${err instanceof Error ? err.message : String(err)}`;
            log.warn('sweep: orphan not deleted', { kind: r.kind, id: r.id, reason });
            skipped.push({ ...r, reason });
            failed.set(keyOf(item), reason);
          }
          done++;
        }
        beat('done', done);
        return { deleted, skipped };
      });
    },
  };
}
