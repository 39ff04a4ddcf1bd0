/**
 * The operator's path for Nova servers against the lab's real Keystone, Glance, Cinder and Nova: `permafrost backup
 * server`, `list --host server`, `restore server` and `backup servers` through the CLI, with workers of this process.
 * What the test creates (the boot image, the source server, the restored server) is deleted at the end.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ServiceApi } from '../../activities/openstack/api';
import { connectCloud } from '../../activities/openstack/clients';
import type { OpenStackClients } from '../../activities/openstack/clients';
import { waitForStatus, waitGone } from '../../activities/openstack/wait';
import type { BackupServerResult } from '../../workflows/shared/openstack-types';
import { TAG_RESTORE_INCOMPLETE } from '../../workflows/shared/temporaries';
import type { BackupSummary } from '../../workflows/shared/types';
import { runCli } from '../helpers/cli';
import { deleteVolume, fileSha256, LAB_CLOUD, labCloud, leftoversOf, openLab, serverDiskPath } from '../helpers/lab';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';

const MiB = 1024 * 1024;
const WAIT = { timeoutMs: 180_000 };
const TS_RE = '\\d{8}T\\d{6}\\.\\d{3}Z';
let env: TestEnv;
let lab: OpenStackClients;
const servers: string[] = [];
const volumes: string[] = [];
const images: string[] = [];
const suffix = randomBytes(3).toString('hex');
const keypair = `pf-cli-key-${suffix}`;
const metadata = { purpose: 'permafrost-cli-server-test', owner: 'qa' };
let source: { id: string; name: string; rootSha256: string };
let flavors: { id: string; name: string }[] = [];

function flavorOf(name: string): string {
  const f = flavors.find((x) => x.name === name);
  assert.ok(f, `the lab has flavor ${name}`);
  return f.id;
}

before(async () => {
  labCloud(); // OS_CLIENT_CONFIG_FILE for this process, so for the workers started here too
  env = await startTestEnv();
  lab = await openLab();
  await lab.nova.createKeypair(keypair);

  // A small raw image (random head, zero tail) to boot from.
  const img = await lab.glance.create({ name: `pf-cli-boot-${suffix}`, disk_format: 'raw', container_format: 'bare' });
  images.push(img.id);
  await lab.glance.upload(img.id, Readable.from([Buffer.concat([randomBytes(3 * MiB), Buffer.alloc(5 * MiB)])]));
  await waitForStatus(`image ${img.id}`, () => lab.glance.find(img.id), ['active'], WAIT);

  flavors = await lab.nova.listFlavors();
  const name = `pf-cli-srv-${suffix}`;
  const { id } = await lab.nova.createServer({ name, imageRef: img.id, flavorRef: flavorOf('lab.tiny'), networks: 'none', key_name: keypair, metadata });
  servers.push(id);
  await waitForStatus(`server ${id}`, () => lab.nova.findServer(id), ['ACTIVE'], WAIT);
  source = { id, name, rootSha256: await fileSha256(serverDiskPath(id)) };
});

after(async () => {
  for (const id of servers.reverse()) {
    try {
      await lab.nova.deleteServer(id);
      await waitGone(`server ${id}`, () => lab.nova.findServer(id), WAIT);
    } catch (err) {
      console.error(`cleanup of server ${id} failed: ${String(err)}`);
    }
  }
  for (const id of volumes) await deleteVolume(lab, id).catch((err: unknown) => console.error(`cleanup of volume ${id} failed: ${String(err)}`));
  for (const id of images) await lab.glance.delete(id).catch((err: unknown) => console.error(`cleanup of image ${id} failed: ${String(err)}`));
  await lab?.nova.deleteKeypair(keypair).catch(() => undefined);
  await lab?.close();
  await env?.shutdown();
});

test('backup server, list --host server and restore server through the CLI', async () => {
  const b = await runCli(env, '--json', 'backup', 'server', source.id, '--os-cloud', LAB_CLOUD, '--segment-size', '8MiB', '--wait-timeout', '10m', '--idle-timeout', '5m');
  assert.equal(b.code, 0, b.stderr);
  const backup = JSON.parse(b.stdout) as BackupServerResult & { workflowId: string };
  assert.match(backup.workflowId, new RegExp(`^backup-server-${source.id}-${TS_RE}-[0-9a-f]+$`));
  assert.deepEqual({ host: backup.ref.host, name: backup.ref.name }, { host: 'server', name: source.id });
  assert.equal(backup.server.id, source.id);
  assert.equal(backup.server.name, source.name);
  assert.equal(backup.server.flavor.name, 'lab.tiny');
  assert.equal(backup.server.bootFromVolume, false);
  assert.equal(backup.server.keyName, keypair);
  assert.deepEqual(backup.server.metadata, metadata);
  assert.deepEqual(backup.server.networks, [], 'booted without networks');
  assert.deepEqual(
    backup.server.disks.map((d) => [d.role, d.ref.name, d.ref.timestamp]),
    [['root', `${source.id}.root`, backup.ref.timestamp]]
  );
  assert.ok(backup.stats.bytes >= 8 * MiB, `the root disk was read: ${backup.stats.bytes}`);
  assert.ok(backup.stats.storedBytes > 3 * MiB && backup.stats.storedBytes < backup.stats.bytes, `stored ${backup.stats.storedBytes}: random head, zeros compressed`);
  assert.deepEqual(backup.targets.map((t) => t.committed), [true]);
  assert.deepEqual(await leftoversOf(lab, backup.workflowId), [], 'the backup left no temporaries');
  assert.equal((await lab.nova.getServer(source.id)).status, 'ACTIVE', 'the source server is still ACTIVE');

  // The server backup and its disk, grouped and told apart by kind.
  const id = `server_${source.id}/${backup.ref.timestamp}`;
  const disk = `server_${source.id}.root/${backup.ref.timestamp}`;
  const l = await runCli(env, 'list', '--host', 'server');
  assert.equal(l.code, 0, l.stderr);
  const lines = l.stdout.split('\n');
  const row = lines.findIndex((line) => line.includes(`${id} `));
  assert.ok(row >= 0, `list shows ${id}:\n${l.stdout}`);
  assert.match(lines[row]!, new RegExp(`\\bserver\\b.*server "${source.name}" \\(${source.id}\\)`), 'kind server, the resource column names the server');
  const next = lines.slice(row + 1).find((line) => line.includes('_')); // the next row, past the table's rule
  assert.ok(next?.includes(disk), `the disk follows its server:\n${l.stdout}`);
  assert.match(next ?? '', new RegExp(`server disk \\(root\\)[\\s│]+root disk of server "${source.name}"`));
  const lj = await runCli(env, '--json', 'list', '--host', 'server');
  assert.equal(lj.code, 0, lj.stderr);
  const listed = (JSON.parse(lj.stdout) as BackupSummary[]).filter((x) => x.ref.timestamp === backup.ref.timestamp).map((x) => [x.ref.name, x.kind, x.resource?.type]);
  assert.deepEqual(listed.sort(), [
    [source.id, 'server', 'server'],
    [`${source.id}.root`, 'image', 'image'],
  ]);

  // A disk is not a server backup: refused before anything starts.
  const wrong = await runCli(env, 'restore', 'server', disk, '--os-cloud', LAB_CLOUD);
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, new RegExp(`is a disk of a server backup: restore the whole server with \`permafrost restore server server_${source.id}/${TS_RE}\``));

  const r = await runCli(env, 'restore', 'server', source.id, '--os-cloud', LAB_CLOUD, '--wait-timeout', '10m');
  const restoreWf = /workflow (\S+) started/.exec(r.stderr)?.[1];
  const m = /^restored (\S+) as server (\S+) "([^"]+)" \(ACTIVE\)$/m.exec(r.stdout);
  if (m) servers.push(m[2]!);
  for (const v of r.stdout.matchAll(/^ {2}volume (\S+) "/gm)) volumes.push(v[1]!);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(m, r.stdout);
  const [, restoredRef, restoredId, restoredName] = m;
  assert.equal(restoredRef, id);
  assert.equal(restoredName, `${source.name}~${backup.ref.timestamp.replace(/\.\d{3}Z$/, 'Z')}`);
  assert.match(r.stdout, /no volumes/, 'an image-booted server without data volumes gets no volumes');
  assert.match(restoreWf ?? '', new RegExp(`^restore-server-${source.id}-${TS_RE}-[0-9a-f]+$`));

  const s = await lab.nova.getServer(restoredId!);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s.name, restoredName);
  assert.equal(s.flavor.original_name, 'lab.tiny', 'the recorded flavor');
  assert.equal(s.key_name, keypair, 'the recorded key pair');
  for (const [k, value] of Object.entries(metadata)) assert.equal(s.metadata[k], value, `metadata ${k}`);
  assert.equal(s.metadata[TAG_RESTORE_INCOMPLETE], undefined, 'the restore finished');
  assert.equal(await fileSha256(serverDiskPath(restoredId!)), source.rootSha256, 'the restored root disk holds the same bytes');
  assert.deepEqual((await leftoversOf(lab, restoreWf!)).filter((x) => x.id !== restoredId), [], 'the temporary image is gone');
});

test('backup servers: one line per server, exit status 1 when one failed', async () => {
  // A second server, put into ERROR by an admin: its backup fails, the other one's does not.
  const { id: broken } = await lab.nova.createServer({ name: `pf-cli-broken-${suffix}`, imageRef: images[0], flavorRef: flavorOf('lab.tiny'), networks: 'none' });
  servers.push(broken);
  await waitForStatus(`server ${broken}`, () => lab.nova.findServer(broken), ['ACTIVE'], WAIT);
  const admin = await connectCloud({ cloud: 'lab-admin' });
  try {
    await new ServiceApi(admin.session, 'compute').noContent('POST', `/servers/${broken}/action`, `reset server ${broken} to error`, { body: { 'os-resetState': { state: 'error' } } });
  } finally {
    await admin.close();
  }
  await waitForStatus(`server ${broken}`, () => lab.nova.findServer(broken), ['ERROR'], WAIT);

  const r = await runCli(env, 'backup', 'servers', source.id, broken, '--os-cloud', LAB_CLOUD, '--segment-size', '8MiB', '--wait-timeout', '10m');
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 3, r.stdout);
  assert.match(lines.find((x) => x.includes(source.id)) ?? '', new RegExp(`^ok +${source.id} +server_${source.id}/${TS_RE} +\\S+ \\S+ read, \\S+ \\S+ stored$`));
  assert.match(lines.find((x) => x.includes(broken)) ?? '', new RegExp(`^FAILED +${broken} +.*is ERROR.*\\(workflow backup-servers-\\S+/${broken}\\)$`));
  assert.equal(lines[2], '2 servers: 1 backed up, 1 failed');
  assert.match(r.stderr, /1 of 2 server backups failed/);
});
