/**
 * The project's OpenStack lab as seen by tests: clients for the demo project, volumes with real bytes (written into
 * the NFS-backed volume file), and an inventory of everything in the project to prove nothing was left behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { connectCloud } from '../../activities/openstack/clients';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { waitForStatus, waitGone } from '../../activities/openstack/wait';
import type { CloudRef } from '../../workflows/shared/openstack-types';
import { TAG_WORKFLOW_ID } from '../../workflows/shared/temporaries';

export const LAB_CLOUD = 'lab-demo';

/** Points this process (and the workers it starts) at the lab's clouds.yaml; fails when the lab is not up. */
export function labCloud(): CloudRef {
  const lab = process.env.PERMAFROST_TEST_LAB ?? '/tmp/permafrost-lab';
  const file = process.env.PERMAFROST_TEST_OS_CLOUDS_YAML ?? join(lab, 'clouds.yaml');
  if (!existsSync(file)) throw new Error(`the OpenStack lab is not up (${file} missing): run through \`npm test\` or \`bash lab/lab.sh up\``);
  process.env.OS_CLIENT_CONFIG_FILE = file;
  // The cloud entry wins over OS_* in permafrost, but keep the environment unambiguous for the workers.
  for (const k of Object.keys(process.env)) if (k.startsWith('OS_') && k !== 'OS_CLIENT_CONFIG_FILE') delete process.env[k];
  return { cloud: LAB_CLOUD };
}

export function nfsVolumePath(volumeId: string): string {
  return join(process.env.PERMAFROST_TEST_LAB ?? '/tmp/permafrost-lab', 'cinder', 'nfs-export', `volume-${volumeId}`);
}

export async function openLab(): Promise<OpenStackClients> {
  return connectCloud(labCloud());
}

const WAIT = { timeoutMs: 180_000 };

/** A new volume of `sizeGiB` whose first `dataBytes` are random (the rest: zeros); returns its id and content hash. */
export async function createVolumeWithData(c: OpenStackClients, opts: { name: string; sizeGiB?: number; dataBytes: number; metadata?: Record<string, string> }): Promise<{ id: string; sha256: string }> {
  const v = await c.cinder.createVolume({ name: opts.name, size: opts.sizeGiB ?? 1, ...(opts.metadata ? { metadata: opts.metadata } : {}) });
  await waitForStatus(`volume ${v.id}`, () => c.cinder.findVolume(v.id), ['available'], WAIT);
  const fh = await open(nfsVolumePath(v.id), 'r+');
  try {
    const chunk = 8 * 1024 * 1024;
    for (let off = 0; off < opts.dataBytes; off += chunk) {
      const buf = randomBytes(Math.min(chunk, opts.dataBytes - off));
      await fh.write(buf, 0, buf.length, off);
    }
  } finally {
    await fh.close();
  }
  return { id: v.id, sha256: await fileSha256(nfsVolumePath(v.id)) };
}

export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface InventoryItem {
  kind: 'image' | 'volume' | 'snapshot' | 'backup' | 'server';
  id: string;
  name: string;
  status: string;
  tags: Record<string, string>;
}

/** Everything in the project: servers, images, volumes, snapshots, Cinder backups. */
export async function inventory(c: OpenStackClients): Promise<InventoryItem[]> {
  const props = (o: Record<string, unknown>): Record<string, string> => Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const [images, volumes, snapshots, backups, servers] = await Promise.all([
    c.glance.list({}),
    c.cinder.listVolumes(),
    c.cinder.listSnapshots(),
    c.cinder.listBackups(),
    c.nova.listServers().catch(() => []), // a lab without Nova
  ]);
  return [
    ...servers.map((s) => ({ kind: 'server' as const, id: s.id, name: s.name, status: s.status, tags: s.metadata })),
    ...images.map((i) => ({ kind: 'image' as const, id: i.id, name: i.name ?? '', status: i.status, tags: props(i) })),
    ...volumes.map((v) => ({ kind: 'volume' as const, id: v.id, name: v.name ?? '', status: v.status, tags: v.metadata })),
    ...snapshots.map((s) => ({ kind: 'snapshot' as const, id: s.id, name: s.name ?? '', status: s.status, tags: s.metadata })),
    ...backups.map((b) => ({ kind: 'backup' as const, id: b.id, name: b.name ?? '', status: b.status, tags: b.metadata ?? {} })),
  ];
}

/** What a workflow created and left: anything named after it or tagged with its id. */
export async function leftoversOf(c: OpenStackClients, workflowId: string): Promise<InventoryItem[]> {
  return (await inventory(c)).filter((r) => r.name.includes(workflowId) || r.tags[TAG_WORKFLOW_ID] === workflowId);
}

/** Deletes a volume (and waits until it is gone); for test teardown. */
export async function deleteVolume(c: OpenStackClients, id: string): Promise<void> {
  await waitForStatus(`volume ${id}`, () => c.cinder.findVolume(id), ['available', 'error', 'in-use'], WAIT).catch(() => undefined);
  await c.cinder.deleteVolume(id);
  await waitGone(`volume ${id}`, () => c.cinder.findVolume(id), WAIT);
}

/** The disk file of an image-booted server in the lab (labfake.py keeps it under Nova's instances path). */
export function serverDiskPath(serverId: string): string {
  return join(process.env.PERMAFROST_TEST_LAB ?? '/tmp/permafrost-lab', 'nova', 'instances', serverId, 'disk');
}
