/**
 * Activities of the Nova workflows: describe a server (after its running task ended), snapshot it (createImage:
 * the disk of an image-booted server, or Cinder snapshots of every volume of a volume-booted one), commit the
 * server record, check a restore plan, boot the restored server and finish it. Creates find their resource by name
 * first (retry-safe); waits heartbeat and time out; deletes wait until the resource is gone.
 */
import { activityInfo, cancellationSignal, log } from '@temporalio/activity';
import type { BackupRef, StorageTarget } from '../workflows/shared/types';
import type { BackupServersInput, OpenStackPlace, ServerRecord, VolumeRecord } from '../workflows/shared/openstack-types';
import { TAG_RESTORE_INCOMPLETE, TAG_WORKFLOW_ID, TEMP_PREFIX, temporaryTags } from '../workflows/shared/temporaries';
import { commitManifest } from './catalog';
import { InvalidInputError } from './failures';
import { MANIFEST_FORMAT } from './manifest';
import type { Manifest } from './manifest';
import type { ConnectCloud, OpenStackClients } from './openstack/clients';
import type { NovaServer } from './openstack/nova';
import { deleteAndWait, kindOps } from './openstack/resources';
import { waitForStatus } from './openstack/wait';
import type { OpenStorage } from './storage/registry';
import { imageRecord, ResourceStateError, volumeRecord } from './volumes';
import { cloudRunner, waiting } from './openstack/steps';

export interface ServerActivityDeps {
  openStorage: OpenStorage;
  connectCloud?: ConnectCloud;
}

/** An attached volume of a server, as a backup sees it. */
export interface ServerVolume {
  record: VolumeRecord;
  device: string | null;
  bootIndex: number | null;
  deleteOnTermination: boolean;
}

export interface DescribedServer {
  server: Omit<ServerRecord, 'disks'>;
  volumes: ServerVolume[];
}

/** What createImage left: the image, and for a volume-booted server the Cinder snapshot of each volume by device. */
export interface ServerSnapshot {
  imageId: string;
  size: number;
  /** device name -> Cinder snapshot id (from the stub image's block_device_mapping). */
  volumeSnapshots: Record<string, string>;
}

/** How a restored server boots: everything checked before anything is created. */
export interface ServerBootPlan {
  flavorId: string;
  /** `none`, or the networks to attach by id. */
  networks: 'none' | { uuid: string }[];
  securityGroups: string[];
  keyName: string | null;
  availabilityZone: string | null;
}

const BOOTABLE_STATES = new Set(['ACTIVE', 'SHUTOFF', 'PAUSED', 'SUSPENDED', 'SHELVED', 'SHELVED_OFFLOADED']);

interface BdmEntry {
  snapshot_id?: string;
  device_name?: string;
  boot_index?: number | null;
}

function stubSnapshots(image: Record<string, unknown>): BdmEntry[] {
  const raw = image.block_device_mapping;
  if (typeof raw !== 'string') return [];
  try {
    const parsed = JSON.parse(raw) as unknown;
    return Array.isArray(parsed) ? (parsed as BdmEntry[]) : [];
  } catch {
    return [];
  }
}

function normalizeDevice(device: string | null | undefined): string {
  return (device ?? '').replace(/^\/dev\//, '');
}

export function createServerActivities(deps: ServerActivityDeps) {
  const cloud = cloudRunner(deps.connectCloud);
  const workflowId = (): string => activityInfo().workflowExecution?.workflowId ?? 'no-workflow';

  /** Waits until the server has no task (a running snapshot, resize, ...); fails on ERROR or when it is gone. */
  const idleServer = async (c: OpenStackClients, place: OpenStackPlace & { idleTimeoutMs?: number }, id: string): Promise<NovaServer> => {
    const signal = cancellationSignal();
    const opts = { ...waiting(place, 'server'), ...(place.idleTimeoutMs !== undefined ? { timeoutMs: place.idleTimeoutMs } : {}) };
    return waitForStatus(
      `server ${id} (waiting for its task to end)`,
      async () => {
        const s = await c.nova.findServer(id, signal);
        // Report "busy:<task>" while a task runs, so the wait sees a status it does not accept.
        return s && { ...s, status: s['OS-EXT-STS:task_state'] ? `busy:${s['OS-EXT-STS:task_state']}` : s.status };
      },
      [...BOOTABLE_STATES],
      { ...opts, detail: (s) => s.fault?.message }
    );
  };

  return {
    /** The server and its volumes, once it has no running task; refuses a server that cannot be snapshotted. */
    async describeServer(input: OpenStackPlace & { serverId: string; idleTimeoutMs?: number }): Promise<DescribedServer> {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        const found = await c.nova.findServer(input.serverId, signal);
        if (!found) throw new InvalidInputError(`server ${input.serverId} does not exist (or is not visible to ${c.session.description})`);
        if (found.status === 'ERROR' || found.status === 'BUILD' || found.status === 'DELETED') {
          throw new ResourceStateError(`server ${input.serverId} is ${found.status}; it cannot be backed up`);
        }
        const s = await idleServer(c, input, input.serverId);
        const flavors = await c.nova.listFlavors(signal).catch(() => []);
        const flavorId = flavors.find((f) => f.name === s.flavor.original_name)?.id;
        const ports = await c.nova.interfaces(s.id, signal).catch(() => []);
        const attachments = await c.nova.volumeAttachments(s.id, signal);
        const bootFromVolume = s.image === '' || s.image === null;
        const sorted = [...attachments].sort((a, b) => normalizeDevice(a.device).localeCompare(normalizeDevice(b.device)));
        const volumes: ServerVolume[] = [];
        for (const [i, a] of sorted.entries()) {
          const v = await c.cinder.getVolume(a.volumeId, signal);
          volumes.push({ record: volumeRecord(v), device: a.device, bootIndex: bootFromVolume && i === 0 ? 0 : null, deleteOnTermination: a.delete_on_termination ?? false });
        }
        const server: Omit<ServerRecord, 'disks'> = {
          type: 'server',
          id: s.id,
          name: s.name,
          flavor: {
            ...(flavorId !== undefined ? { id: flavorId } : {}),
            name: s.flavor.original_name,
            vcpus: s.flavor.vcpus,
            ram: s.flavor.ram,
            disk: s.flavor.disk,
            extraSpecs: s.flavor.extra_specs ?? {},
          },
          imageRef: typeof s.image === 'object' && s.image !== null ? s.image.id : null,
          bootFromVolume,
          networks: Object.entries(s.addresses ?? {}).map(([name, addrs]) => ({
            name,
            fixedIps: addrs.filter((a) => a['OS-EXT-IPS:type'] !== 'floating').map((a) => a.addr),
            macs: [...new Set(addrs.flatMap((a) => (a['OS-EXT-IPS-MAC:mac_addr'] ? [a['OS-EXT-IPS-MAC:mac_addr']] : [])))],
          })),
          ports: ports.map((p) => ({ portId: p.port_id, networkId: p.net_id, fixedIps: p.fixed_ips.map((f) => f.ip_address) })),
          securityGroups: [...new Set((s.security_groups ?? []).map((g) => g.name))],
          keyName: s.key_name,
          metadata: Object.fromEntries(Object.entries(s.metadata).filter(([k]) => !k.startsWith('permafrost_'))),
          tags: s.tags ?? [],
          availabilityZone: s['OS-EXT-AZ:availability_zone'] ?? null,
        };
        return { server, volumes };
      });
    },

    /**
     * createImage, tagged, until the image is active and the server idle again. For a volume-booted server the
     * image is a stub whose block_device_mapping names one Cinder snapshot per volume; those are tagged too.
     */
    async createServerSnapshot(input: OpenStackPlace & { serverId: string; imageName: string; idleTimeoutMs?: number }): Promise<ServerSnapshot> {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        const wf = workflowId();
        const tags = temporaryTags(wf, new Date().toISOString());
        let image = (await c.glance.list({ name: input.imageName }, signal)).find((i) => i.name === input.imageName && i.status !== 'killed');
        if (!image) {
          await idleServer(c, input, input.serverId);
          const { imageId } = await c.nova.createImage(input.serverId, input.imageName, tags, signal);
          image = await c.glance.get(imageId, signal);
        }
        const id = image.id;
        const active = await waitForStatus(`image ${id} (snapshot of server ${input.serverId})`, () => c.glance.find(id, signal), ['active'], waiting(input, 'image'));
        const volumeSnapshots: Record<string, string> = {};
        for (const entry of stubSnapshots(active)) {
          if (!entry.snapshot_id) continue;
          volumeSnapshots[normalizeDevice(entry.device_name)] = entry.snapshot_id;
          const snapshotId = entry.snapshot_id;
          await waitForStatus(`snapshot ${snapshotId} (of server ${input.serverId})`, () => c.cinder.findSnapshot(snapshotId, signal), ['available'], waiting(input, 'snapshot'));
          await c.cinder.setSnapshotMetadata(snapshotId, tags, signal);
        }
        await idleServer(c, input, input.serverId);
        return { imageId: id, size: active.size ?? 0, volumeSnapshots };
      });
    },

    /** Undo of createServerSnapshot: the Cinder snapshots its stub image names, then the image. Idempotent. */
    async deleteServerSnapshot(input: OpenStackPlace & { imageName: string }): Promise<{ deleted: string[] }> {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        const wf = workflowId();
        const deleted: string[] = [];
        const images = (await c.glance.list({ name: input.imageName }, signal)).filter(
          (i) => i.name === input.imageName && (i[TAG_WORKFLOW_ID] === wf || (i[TAG_WORKFLOW_ID] === undefined && input.imageName.startsWith(TEMP_PREFIX)))
        );
        // Nova names the snapshots of a volume-backed server "snapshot for <image name>".
        const snapshots = new Set((await c.cinder.listSnapshots({ name: `snapshot for ${input.imageName}` }, signal)).map((s) => s.id));
        for (const i of images) for (const e of stubSnapshots(i)) if (e.snapshot_id) snapshots.add(e.snapshot_id);
        for (const id of snapshots) {
          if (await deleteAndWait(kindOps(c, 'snapshot'), 'snapshot', id, waiting(input, 'delete'))) deleted.push(id);
        }
        for (const i of images) {
          if (await deleteAndWait(kindOps(c, 'image'), 'image', i.id, waiting(input, 'delete'))) deleted.push(i.id);
        }
        if (deleted.length > 0) log.info('server snapshot deleted', { image: input.imageName, deleted });
        return { deleted };
      });
    },

    /** The record of an image a server snapshot made (formats, for the restore). */
    async describeSnapshotImage(input: OpenStackPlace & { imageId: string }): Promise<ReturnType<typeof imageRecord>> {
      return cloud(input, async (c) => imageRecord(await c.glance.get(input.imageId, cancellationSignal())));
    },

    /** Writes the server record as the backup's manifest on every target: the commit point, after every disk. */
    async commitServerBackup(input: { storages: StorageTarget[]; ref: BackupRef; record: ServerRecord }): Promise<void> {
      const info = activityInfo();
      const now = new Date().toISOString();
      const manifest: Manifest = {
        format: MANIFEST_FORMAT,
        kind: 'server',
        ref: input.ref,
        level: 0,
        chain: input.ref.timestamp,
        parent: null,
        createdAt: now,
        completedAt: now,
        workflowId: info.workflowExecution?.workflowId ?? '',
        runId: info.workflowExecution?.runId ?? '',
        sources: [],
        exclude: [],
        compression: { algorithm: 'none' },
        encryption: null,
        segmentSize: 1,
        segments: [],
        stats: { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, streamBytes: 0, storedBytes: 0, segments: 0 },
        warnings: [],
        resource: input.record as unknown as Manifest['resource'],
      };
      for (const storage of input.storages) {
        const driver = deps.openStorage(storage);
        try {
          await commitManifest(driver, manifest, cancellationSignal());
        } finally {
          await driver.close();
        }
      }
    },

    /** Checks what a restored server needs (flavor, key pair, networks) and resolves it, before anything is created. */
    async planServerRestore(
      input: OpenStackPlace & { record: ServerRecord; flavor?: string; keyName?: string; networkMap?: Record<string, string>; availabilityZone?: string }
    ): Promise<ServerBootPlan> {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        const r = input.record;
        const flavors = await c.nova.listFlavors(signal);
        const wanted = input.flavor ?? r.flavor.name;
        const flavor = flavors.find((f) => f.id === wanted) ?? flavors.find((f) => f.name === wanted) ?? (input.flavor ? undefined : flavors.find((f) => f.id === r.flavor.id));
        if (!flavor) throw new InvalidInputError(`flavor ${wanted} does not exist here (flavors: ${flavors.map((f) => f.name).join(', ')}); pass --flavor`);
        if (!r.bootFromVolume && flavor.disk > 0 && r.disks.some((d) => d.role === 'root' && (d.image?.minDisk ?? 0) > flavor.disk)) {
          throw new InvalidInputError(`flavor ${flavor.name} has a ${flavor.disk} GiB disk, smaller than the backed-up root disk needs`);
        }
        const keyName = input.keyName === 'none' ? null : (input.keyName ?? r.keyName);
        if (keyName && !(await c.nova.findKeypair(keyName, signal))) throw new InvalidInputError(`key pair ${keyName} does not exist; pass --key-name (or --key-name none)`);
        const networks: { uuid: string }[] = [];
        for (const n of r.networks) {
          const target = input.networkMap?.[n.name] ?? n.name;
          if (target === 'none') continue;
          const found = await c.nova.networksNamed(target, signal).catch(() => []);
          const byId = /^[0-9a-f-]{36}$/i.test(target) ? [{ id: target }] : [];
          const match = found.length === 1 ? found : byId;
          if (match.length !== 1 || !match[0]) {
            throw new InvalidInputError(`network ${target} (for recorded network ${n.name}) ${found.length > 1 ? 'is ambiguous' : 'does not exist'}; map it with --network ${n.name}=<name|id|none>`);
          }
          networks.push({ uuid: match[0].id });
        }
        return {
          flavorId: flavor.id,
          networks: networks.length === 0 ? 'none' : networks,
          securityGroups: networks.length === 0 ? [] : r.securityGroups,
          keyName,
          availabilityZone: input.availabilityZone ?? null,
        };
      });
    },

    /**
     * Boots the restored server (image- or volume-booted, every restored volume attached) and waits until ACTIVE;
     * ERROR fails the step with Nova's fault. Tagged `permafrost_restore_incomplete` until finishRestoredServer.
     */
    async createRestoredServer(
      input: OpenStackPlace & {
        name: string;
        plan: ServerBootPlan;
        metadata: Record<string, string>;
        rootImageId?: string;
        volumes: { volumeId: string; bootIndex: number | null }[];
      }
    ): Promise<{ serverId: string }> {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        const wf = workflowId();
        const existing = (await kindOps(c, 'server').byName(input.name, signal)).find((s) => s.name === input.name && s.tags[TAG_WORKFLOW_ID] === wf);
        const bdm: Record<string, unknown>[] = [];
        if (input.rootImageId) bdm.push({ boot_index: 0, uuid: input.rootImageId, source_type: 'image', destination_type: 'local', delete_on_termination: true });
        for (const v of input.volumes) {
          bdm.push({ boot_index: v.bootIndex ?? -1, uuid: v.volumeId, source_type: 'volume', destination_type: 'volume', delete_on_termination: false });
        }
        const id =
          existing?.id ??
          (
            await c.nova.createServer(
              {
                name: input.name,
                flavorRef: input.plan.flavorId,
                ...(input.rootImageId ? { imageRef: input.rootImageId } : {}),
                block_device_mapping_v2: bdm,
                networks: input.plan.networks,
                ...(input.plan.securityGroups.length > 0 ? { security_groups: input.plan.securityGroups.map((name) => ({ name })) } : {}),
                ...(input.plan.keyName ? { key_name: input.plan.keyName } : {}),
                ...(input.plan.availabilityZone ? { availability_zone: input.plan.availabilityZone } : {}),
                metadata: { ...input.metadata, ...temporaryTags(wf, new Date().toISOString()), [TAG_RESTORE_INCOMPLETE]: 'true' },
              },
              signal
            )
          ).id;
        await waitForStatus(`restored server ${id}`, () => c.nova.findServer(id, signal), ['ACTIVE'], { ...waiting(input, 'server'), detail: (s) => s.fault?.message });
        return { serverId: id };
      });
    },

    /** The servers of a scope; a listed id that does not exist fails before any backup starts. */
    async listServerIds(input: OpenStackPlace & { scope: BackupServersInput['scope'] }): Promise<string[]> {
      return cloud(input, async (c) => {
        const signal = cancellationSignal();
        if (input.scope.kind === 'list') {
          const missing: string[] = [];
          for (const id of input.scope.serverIds) if (!(await c.nova.findServer(id, signal))) missing.push(id);
          if (missing.length > 0) throw new InvalidInputError(`servers not found: ${missing.join(', ')}`);
          return [...new Set(input.scope.serverIds)];
        }
        const servers = await c.nova.listServers({ allTenants: input.scope.kind === 'all-tenants' }, signal);
        return servers.filter((s) => s.metadata[TAG_RESTORE_INCOMPLETE] === undefined).map((s) => s.id);
      });
    },

    /** Completes a restored server: drops the incomplete marker (from now on nothing deletes it). */
    async finishRestoredServer(input: OpenStackPlace & { serverId: string }): Promise<void> {
      await cloud(input, (c) => c.nova.deleteServerMetadataKey(input.serverId, TAG_RESTORE_INCOMPLETE, cancellationSignal()));
    },
  };
}

export type ServerActivities = ReturnType<typeof createServerActivities>;
