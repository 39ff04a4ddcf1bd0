/**
 * The operator's path for volumes against the lab's real Keystone, Cinder and Glance: `permafrost backup volume`,
 * `list --host volume`, `restore volume` through the CLI, with workers of this process. What the test creates (the
 * source volume, the restored one) is deleted at the end.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { OpenStackClients } from '../../activities/openstack/clients';
import type { BackupVolumeResult } from '../../workflows/shared/openstack-types';
import { runCli } from '../helpers/cli';
import { createVolumeWithData, deleteVolume, fileSha256, LAB_CLOUD, labCloud, leftoversOf, nfsVolumePath, openLab } from '../helpers/lab';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';

let env: TestEnv;
let lab: OpenStackClients;
const created: string[] = [];
const metadata = { purpose: 'permafrost-cli-test', owner: 'qa' };
let source: { id: string; sha256: string; name: string };

before(async () => {
  labCloud(); // OS_CLIENT_CONFIG_FILE for this process, so for the workers started here too
  env = await startTestEnv();
  lab = await openLab();
  const name = `pf-cli-${randomBytes(3).toString('hex')}`;
  const v = await createVolumeWithData(lab, { name, sizeGiB: 1, dataBytes: 3 * 1024 * 1024 + 17, metadata });
  created.push(v.id);
  source = { ...v, name };
});

after(async () => {
  for (const id of created.reverse()) await deleteVolume(lab, id).catch((err: unknown) => console.error(`cleanup of volume ${id} failed: ${String(err)}`));
  await lab?.close();
  await env?.shutdown();
});

test('backup volume, list --host volume and restore volume through the CLI', async () => {
  const b = await runCli(env, '--json', 'backup', 'volume', source.id, '--os-cloud', LAB_CLOUD, '--segment-size', '16MiB', '--wait-timeout', '10m');
  assert.equal(b.code, 0, b.stderr);
  const backup = JSON.parse(b.stdout) as BackupVolumeResult & { workflowId: string };
  assert.match(backup.workflowId, new RegExp(`^backup-volume-${source.id}-\\d{8}T\\d{6}\\.\\d{3}Z-[0-9a-f]+$`));
  assert.deepEqual({ host: backup.ref.host, name: backup.ref.name }, { host: 'volume', name: source.id });
  assert.equal(backup.volume.id, source.id);
  assert.equal(backup.volume.name, source.name);
  assert.equal(backup.volume.size, 1);
  assert.deepEqual(backup.volume.metadata, metadata);
  assert.equal(backup.volume.dataFormat, 'qcow2');
  assert.ok(backup.stats.bytes < 64 * 1024 * 1024, `the qcow2 image holds only what the volume wrote: ${backup.stats.bytes}`);
  assert.ok(backup.stats.storedBytes > 3 * 1024 * 1024 && backup.stats.storedBytes < 64 * 1024 * 1024, `stored ${backup.stats.storedBytes}: random data, zeros compressed`);
  assert.deepEqual(backup.targets.map((t) => t.committed), [true]);
  assert.deepEqual(await leftoversOf(lab, backup.workflowId), [], 'the backup left no temporaries');

  const id = `volume_${source.id}/${backup.ref.timestamp}`;
  const l = await runCli(env, 'list', '--host', 'volume');
  assert.equal(l.code, 0, l.stderr);
  const row = l.stdout.split('\n').find((line) => line.includes(id));
  assert.ok(row, `list shows ${id}:\n${l.stdout}`);
  assert.match(row, new RegExp(`volume "${source.name}" \\(${source.id}\\)`), 'the resource column names the volume');
  const lj = await runCli(env, '--json', 'list', '--host', 'volume', '--name', source.id);
  const listed = JSON.parse(lj.stdout) as { kind: string; resource?: { id: string } }[];
  assert.deepEqual(listed.map((x) => [x.kind, x.resource?.id]), [['volume', source.id]]);

  const r = await runCli(env, 'restore', 'volume', id, '--os-cloud', LAB_CLOUD);
  assert.equal(r.code, 0, r.stderr);
  const m = /^restored (\S+) into new volume (\S+) "([^"]+)" \((\d+) GiB\)$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  const [, restoredRef, restoredId, restoredName, size] = m;
  created.push(restoredId!);
  assert.equal(restoredRef, id);
  assert.equal(restoredName, `${source.name}~${backup.ref.timestamp.replace(/\.\d{3}Z$/, 'Z')}`);
  assert.equal(size, '1');

  const v = await lab.cinder.getVolume(restoredId!);
  assert.equal(v.status, 'available');
  assert.equal(v.size, 1);
  assert.equal(v.name, restoredName);
  for (const [k, value] of Object.entries(metadata)) assert.equal(v.metadata[k], value, `metadata ${k}`);
  assert.equal(v.metadata.permafrost_restore_incomplete, undefined, 'the restore finished');
  assert.equal(await fileSha256(nfsVolumePath(restoredId!)), source.sha256, 'the restored volume holds the same bytes');
});
