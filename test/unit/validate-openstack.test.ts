import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../client/validate';
import {
  checkTimeouts,
  validateBackupImage,
  validateBackupServer,
  validateBackupServers,
  validateBackupVolume,
  validateBackupVolumeNative,
  validateBackupVolumes,
  validateRestoreImage,
  validateRestoreServer,
  validateRestoreVolume,
  validateRestoreVolumeNative,
  validateSweep,
  validateSweepSchedule,
} from '../../client/validate-openstack';
import type { BackupVolumeRequest } from '../../client/validate-openstack';

const ctx = { localNode: 'here', defaultStorage: 'local:/var/lib/permafrost/storage' };
const VOL = '0f8e2c5a-6f1d-4c43-9d5e-2b7f9a1c3e44';
const TS = '20261126T163400.123Z';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.problems;
  }
  assert.fail('expected a ValidationError');
}

test('a volume backup gets the node, storage and stream defaults; the name defaults to the volume id', () => {
  assert.deepEqual(validateBackupVolume({ volumeId: VOL }, ctx), {
    node: 'here',
    volumeId: VOL,
    name: VOL,
    storage: { driver: 'local', path: '/var/lib/permafrost/storage' },
    compression: 'zstd',
    compressionLevel: undefined,
    segmentSize: 64 * 1024 * 1024,
  });
});

test('a volume backup takes the cloud reference, fan-out storages, encryption and limits like backup fs', () => {
  const input = validateBackupVolume(
    {
      volumeId: VOL,
      name: 'db-data',
      node: 'ctl-1',
      cloud: 'lab-demo',
      region: 'RegionOne',
      interface: 'internal',
      storage: ['local:/a', 'swift:backups'],
      compression: 'gzip',
      compressionLevel: 6,
      segmentSize: '8MiB',
      encryption: { keyEnv: 'PF_KEY' },
      bandwidthLimit: '50MiB',
      timeouts: '2h',
    },
    ctx
  );
  assert.equal(input.node, 'ctl-1');
  assert.equal(input.name, 'db-data');
  assert.equal(input.cloud, 'lab-demo');
  assert.equal(input.region, 'RegionOne');
  assert.equal(input.interface, 'internal');
  assert.deepEqual(input.storage, { driver: 'local', path: '/a' });
  assert.deepEqual(input.copies, [{ driver: 'swift', container: 'backups' }]);
  assert.equal(input.compression, 'gzip');
  assert.equal(input.segmentSize, 8 * 1024 * 1024);
  assert.deepEqual(input.encryption, { keyEnv: 'PF_KEY' });
  assert.equal(input.bandwidthLimit, 50 * 1024 * 1024);
  assert.deepEqual(input.timeouts, { snapshot: 7_200_000, volume: 7_200_000, image: 7_200_000, delete: 7_200_000, backup: 7_200_000, server: 7_200_000 });
});

test('every problem of a volume backup is reported at once, each naming what to fix', () => {
  const p = problems(() =>
    validateBackupVolume(
      {
        volumeId: '../../v3/os-quota-sets',
        name: 'bad name',
        storage: 'ftp://x',
        compression: 'lz4',
        segmentSize: '1k',
        interface: 'private',
        cloud: '',
        timeouts: ['volume=forever', 'coffee=10m'],
      },
      ctx
    )
  );
  assert.equal(p.length, 9, p.join('\n'));
  assert.ok(p.some((m) => m.includes('volume id "../../v3/os-quota-sets" is not an OpenStack id')));
  assert.ok(p.some((m) => m.includes('backup name "bad name"')));
  assert.ok(p.some((m) => m.includes('unknown storage scheme "ftp"')));
  assert.ok(p.some((m) => m.includes('compression must be one of')));
  assert.ok(p.some((m) => m.includes('segment size')));
  assert.ok(p.some((m) => m.includes('--os-interface must be one of public, internal, admin')));
  assert.ok(p.some((m) => m.includes('--os-cloud')));
  assert.ok(p.some((m) => m.includes('--wait-timeout volume must be a duration')));
  assert.ok(p.some((m) => m.includes('unknown wait timeout kind "coffee"')));
});

test('a missing volume id is reported plainly; a default name that is not a valid name points at --name', () => {
  assert.deepEqual(problems(() => validateBackupVolume({ volumeId: '' }, ctx)), ['volume id is required']);
  const long = `v${'x'.repeat(150)}`;
  const p = problems(() => validateBackupVolume({ volumeId: long }, ctx));
  assert.equal(p.length, 1);
  assert.match(p[0]!, /defaults to the resource id: give --name/);
  assert.equal(validateBackupVolume({ volumeId: long, name: 'short' }, ctx).name, 'short');
});

test('wait timeouts: one for all, per kind (later ones win), bounded by the 7-hour step', () => {
  const p: string[] = [];
  assert.deepEqual(checkTimeouts(['1h', 'volume=45m', 'delete=5m', 'volume=50m'], p), {
    snapshot: 3_600_000,
    volume: 3_000_000,
    image: 3_600_000,
    delete: 300_000,
    backup: 3_600_000,
    server: 3_600_000,
  });
  assert.deepEqual(checkTimeouts({ image: '90m', volume: 600_000 }, p), { image: 5_400_000, volume: 600_000 });
  assert.deepEqual(p, []);
  assert.equal(checkTimeouts(undefined, p), undefined);
  assert.match(problems(() => validateBackupVolume({ volumeId: VOL, timeouts: '8h' }, ctx))[0]!, /from 10s to 7h/);
  assert.match(problems(() => validateBackupVolume({ volumeId: VOL, timeouts: '1s' }, ctx))[0]!, /from 10s to 7h/);
  assert.match(problems(() => validateBackupVolume({ volumeId: VOL, timeouts: ['snapshot=10'] }, ctx))[0]!, /--wait-timeout snapshot must be a duration/);
});

test('an image backup: defaults and id checks', () => {
  const input = validateBackupImage({ imageId: 'a1b2c3', storage: 'local:/x', cloud: 'prod' }, ctx);
  assert.equal(input.name, 'a1b2c3');
  assert.equal(input.imageId, 'a1b2c3');
  assert.equal(input.cloud, 'prod');
  assert.deepEqual(input.storage, { driver: 'local', path: '/x' });
  assert.deepEqual(problems(() => validateBackupImage({ imageId: 'a b' }, ctx)), [`image id "a b" is not an OpenStack id (letters, digits, '-', '_' and '.', e.g. a UUID)`]);
});

test('a volume restore reads a name, or the exact volume_<name>/<timestamp> that list shows', () => {
  assert.deepEqual(validateRestoreVolume({ backup: VOL }, ctx), { node: 'here', storage: { driver: 'local', path: '/var/lib/permafrost/storage' }, name: VOL });
  const exact = validateRestoreVolume({ backup: `volume_db-data/${TS}`, volumeName: 'db restored', volumeType: 'fast', availabilityZone: 'nova', cloud: 'c' }, ctx);
  assert.equal(exact.name, 'db-data');
  assert.equal(exact.timestamp, TS);
  assert.equal(exact.volumeName, 'db restored');
  assert.equal(exact.volumeType, 'fast');
  assert.equal(exact.availabilityZone, 'nova');
  assert.equal(validateRestoreVolume({ backup: 'db-data', timestamp: TS }, ctx).timestamp, TS);
  assert.equal(validateRestoreVolume({ backup: 'db-data', fromDate: '2026-11-26 12:00' }, ctx).fromDate, '2026-11-26 12:00');
  const over = validateRestoreVolume({ backup: 'db-data', targetVolumeId: VOL }, ctx);
  assert.equal(over.targetVolumeId, VOL);
});

test('volume restore mistakes are reported before anything starts', () => {
  assert.match(problems(() => validateRestoreVolume({ backup: `image_cirros/${TS}` }, ctx))[0]!, /is an image backup: restore it with `permafrost restore image`/);
  assert.match(problems(() => validateRestoreVolume({ backup: `web1_etc/${TS}` }, ctx))[0]!, /is not a volume backup/);
  assert.match(problems(() => validateRestoreVolume({ backup: 'volume_x/yesterday' }, ctx))[0]!, /neither a backup name nor volume_<name>\/<timestamp>/);
  assert.match(problems(() => validateRestoreVolume({ backup: '' }, ctx))[0]!, /the backup to restore is required/);
  const p = problems(() => validateRestoreVolume({ backup: 'x', timestamp: 'now', fromDate: '2026-13-01' }, ctx));
  assert.equal(p.length, 2, p.join('\n'));
  assert.ok(p.some((m) => m.includes('--timestamp "now" is not a backup timestamp')));
  assert.ok(p.some((m) => m.includes('--from-date "2026-13-01" is not an ISO 8601 date')));
  assert.match(problems(() => validateRestoreVolume({ backup: 'x', timestamp: TS, fromDate: '2026-11-01' }, ctx))[0]!, /not both/);
  assert.match(problems(() => validateRestoreVolume({ backup: `volume_x/${TS}`, timestamp: '20261126T163400.124Z' }, ctx))[0]!, /contradicts/);
  assert.match(problems(() => validateRestoreVolume({ backup: 'x', targetVolumeId: VOL, volumeType: 'fast' }, ctx))[0]!, /apply to a new volume/);
  assert.match(problems(() => validateRestoreVolume({ backup: 'x', volumeName: 'a\nb' }, ctx))[0]!, /--volume-name must be a non-empty text/);
  assert.match(problems(() => validateRestoreVolume({ backup: 'x', targetVolumeId: 'x/../y' }, ctx))[0]!, /--target-volume "x\/..\/y" is not an OpenStack id/);
});

test('an image restore: name, exact id, new image name', () => {
  const input = validateRestoreImage({ backup: `image_cirros/${TS}`, imageName: 'cirros-back' }, ctx);
  assert.equal(input.name, 'cirros');
  assert.equal(input.timestamp, TS);
  assert.equal(input.imageName, 'cirros-back');
  assert.match(problems(() => validateRestoreImage({ backup: `volume_v/${TS}` }, ctx))[0]!, /is a volume backup: restore it with `permafrost restore volume`/);
});

test('backup volumes needs exactly one scope and a bounded concurrency', () => {
  const list = validateBackupVolumes({ volumeIds: [VOL, 'abc'], concurrency: '3' }, ctx);
  assert.deepEqual(list.scope, { kind: 'list', volumeIds: [VOL, 'abc'] });
  assert.equal(list.concurrency, 3);
  assert.equal(list.compression, 'zstd');
  assert.deepEqual(validateBackupVolumes({ project: true }, ctx).scope, { kind: 'project' });
  assert.equal(validateBackupVolumes({ project: true }, ctx).concurrency, 2);
  assert.deepEqual(validateBackupVolumes({ allTenants: true, volumeIds: [] }, ctx).scope, { kind: 'all-tenants' });
  assert.match(problems(() => validateBackupVolumes({}, ctx))[0]!, /say which volumes: volume ids, --project .* or --all-tenants/);
  assert.match(problems(() => validateBackupVolumes({ project: true, allTenants: true }, ctx))[0]!, /only one of/);
  assert.match(problems(() => validateBackupVolumes({ volumeIds: [VOL], project: true }, ctx))[0]!, /only one of/);
  assert.match(problems(() => validateBackupVolumes({ volumeIds: [VOL, VOL] }, ctx))[0]!, /the same volume is given twice/);
  for (const c of ['0', '17', 'two', 1.5]) {
    assert.match(problems(() => validateBackupVolumes({ project: true, concurrency: c }, ctx))[0]!, /--concurrency must be a whole number from 1 to 16/, String(c));
  }
});

test('native Cinder backups: incremental by default, --full, --keep, --container', () => {
  assert.deepEqual(validateBackupVolumeNative({ volumeId: VOL }, ctx), { node: 'here', volumeId: VOL, incremental: true });
  assert.deepEqual(validateBackupVolumeNative({ volumeId: VOL, full: true, keep: '3', container: 'cinder-bk', cloud: 'c' }, ctx), {
    node: 'here',
    cloud: 'c',
    volumeId: VOL,
    incremental: false,
    keep: 3,
    container: 'cinder-bk',
  });
  const p = problems(() => validateBackupVolumeNative({ volumeId: '', keep: '0', container: 'a b' }, ctx));
  assert.equal(p.length, 3, p.join('\n'));
  assert.ok(p.some((m) => m.includes('--keep must be a whole number of at least 1')));
  assert.ok(p.some((m) => m.includes('--container')));
  assert.deepEqual(validateRestoreVolumeNative({ backupId: VOL, volumeName: 'back' }, ctx), { node: 'here', backupId: VOL, volumeName: 'back' });
  assert.deepEqual(problems(() => validateRestoreVolumeNative({ backupId: ' ' }, ctx)), ['Cinder backup id is required']);
});

test('sweep: grace default 1h and at least 1m; a schedule needs an interval of at least 5m', () => {
  assert.deepEqual(validateSweep({}, ctx), { node: 'here', graceMs: 3_600_000, dryRun: false, allTenants: false });
  assert.deepEqual(validateSweep({ grace: '2h', dryRun: true, allTenants: true, cloud: 'lab-admin' }, ctx), {
    node: 'here',
    cloud: 'lab-admin',
    graceMs: 7_200_000,
    dryRun: true,
    allTenants: true,
  });
  assert.match(problems(() => validateSweep({ grace: '30s' }, ctx))[0]!, /--grace must be at least 1m/);
  assert.match(problems(() => validateSweep({ grace: 'soon' }, ctx))[0]!, /--grace must be a duration/);
  assert.deepEqual(validateSweepSchedule({ every: '1h', grace: '2h' }, ctx), {
    everyMs: 3_600_000,
    input: { node: 'here', graceMs: 7_200_000, dryRun: false, allTenants: false },
  });
  assert.match(problems(() => validateSweepSchedule({ every: '1m' }, ctx))[0]!, /--schedule must be at least 5m/);
  assert.match(problems(() => validateSweepSchedule({ every: 'hourly' }, ctx))[0]!, /--schedule must be a duration/);
});

test('inputs carry references only: unknown fields (a password) are dropped and a cloud must be a name', () => {
  const sneaky = { volumeId: VOL, cloud: 'lab-demo', password: 's3cret-pw', auth: { password: 's3cret-pw' }, encryption: { keyEnv: 'PF_KEY' } } as BackupVolumeRequest;
  const inputs: unknown[] = [
    validateBackupVolume(sneaky, ctx),
    validateRestoreVolume({ ...sneaky, backup: VOL } as never, ctx),
    validateBackupVolumes({ ...sneaky, project: true }, ctx),
    validateBackupVolumeNative(sneaky, ctx),
    validateSweep(sneaky, ctx),
  ];
  for (const input of inputs) {
    const text = JSON.stringify(input);
    assert.ok(!text.includes('s3cret-pw') && !text.includes('password') && !text.includes('auth'), text);
    assert.ok(text.includes('"cloud":"lab-demo"'), text);
  }
  const asObject = { volumeId: VOL, cloud: { auth: { password: 's3cret-pw' } } } as unknown as BackupVolumeRequest;
  const p = problems(() => validateBackupVolume(asObject, ctx));
  assert.match(p[0]!, /--os-cloud \(a clouds.yaml cloud name\) must be a non-empty text/);
  assert.ok(!p.join('\n').includes('s3cret-pw'), 'the rejected value is not echoed when it is not a name');
  // A key is referenced, never carried: a key file must be an absolute path (checked here for this node).
  assert.match(problems(() => validateBackupVolume({ volumeId: VOL, encryption: { keyFile: 'key.bin' } }, ctx))[0]!, /must be an absolute path/);
});

const SRV = '7c1d4e2a-93b0-4f5e-8a61-0d2c3b4a5f67';

test('a server backup: the name defaults to the server id; --idle-timeout and the server wait kind', () => {
  assert.deepEqual(validateBackupServer({ serverId: SRV, cloud: 'lab-demo' }, ctx), {
    node: 'here',
    cloud: 'lab-demo',
    serverId: SRV,
    name: SRV,
    storage: { driver: 'local', path: '/var/lib/permafrost/storage' },
    compression: 'zstd',
    compressionLevel: undefined,
    segmentSize: 64 * 1024 * 1024,
  });
  const input = validateBackupServer({ serverId: SRV, name: 'web-1', idleTimeout: '30m', timeouts: ['server=2h', 'image=90m'], storage: ['local:/a', 'local:/b'] }, ctx);
  assert.equal(input.name, 'web-1');
  assert.equal(input.idleTimeoutMs, 1_800_000);
  assert.deepEqual(input.timeouts, { server: 7_200_000, image: 5_400_000 });
  assert.deepEqual(input.copies, [{ driver: 'local', path: '/b' }]);
  assert.equal(validateBackupServer({ serverId: SRV, idleTimeout: 60_000 }, ctx).idleTimeoutMs, 60_000);
});

test('server backup mistakes: bad id, idle timeout out of bounds, names that would clash with disk backups', () => {
  const p = problems(() => validateBackupServer({ serverId: 'a/../b', idleTimeout: 'soon', timeouts: ['servers=1h'] }, ctx));
  assert.equal(p.length, 3, p.join('\n'));
  assert.ok(p.some((m) => m.includes('server id "a/../b" is not an OpenStack id')));
  assert.ok(p.some((m) => m.includes('--idle-timeout must be a duration from 10s to 7h')));
  assert.ok(p.some((m) => m.includes('unknown wait timeout kind "servers" (known: snapshot, volume, image, delete, backup, server')));
  assert.deepEqual(problems(() => validateBackupServer({ serverId: '' }, ctx)), ['server id is required']);
  assert.match(problems(() => validateBackupServer({ serverId: SRV, idleTimeout: '8h' }, ctx))[0]!, /--idle-timeout must be a duration from 10s to 7h/);
  for (const name of ['web.root', 'web.vol-0', 'web.vol-12']) {
    assert.match(problems(() => validateBackupServer({ serverId: SRV, name }, ctx))[0]!, /ends like the name of a server disk/, name);
  }
  assert.equal(validateBackupServer({ serverId: SRV, name: 'web.rooted' }, ctx).name, 'web.rooted');
  assert.match(problems(() => validateBackupServer({ serverId: SRV, name: 'n'.repeat(119) }, ctx))[0]!, /longer than 118 characters .*<name>\.vol-<i>/);
  assert.equal(validateBackupServer({ serverId: SRV, name: 'n'.repeat(118) }, ctx).name, 'n'.repeat(118));
  assert.match(problems(() => validateBackupServer({ serverId: 'x.root' }, ctx))[0]!, /ends like the name of a server disk/);
});

test('backup servers: one scope, bounded concurrency, idle timeout for every server', () => {
  const list = validateBackupServers({ serverIds: [SRV, 'abc'], concurrency: '4', idleTimeout: '5m' }, ctx);
  assert.deepEqual(list.scope, { kind: 'list', serverIds: [SRV, 'abc'] });
  assert.equal(list.concurrency, 4);
  assert.equal(list.idleTimeoutMs, 300_000);
  assert.equal('name' in list, false, 'each server is named after its id by the workflow');
  assert.deepEqual(validateBackupServers({ project: true }, ctx).scope, { kind: 'project' });
  assert.equal(validateBackupServers({ project: true }, ctx).concurrency, 2);
  assert.deepEqual(validateBackupServers({ allTenants: true, cloud: 'lab-admin' }, ctx).scope, { kind: 'all-tenants' });
  assert.match(problems(() => validateBackupServers({}, ctx))[0]!, /say which servers: server ids, --project .* or --all-tenants/);
  assert.match(problems(() => validateBackupServers({ serverIds: [SRV], allTenants: true }, ctx))[0]!, /give only one of: server ids, --project, --all-tenants/);
  assert.match(problems(() => validateBackupServers({ serverIds: [SRV, SRV] }, ctx))[0]!, /the same server is given twice/);
  assert.match(problems(() => validateBackupServers({ serverIds: ['ok', 'no way'] }, ctx))[0]!, /server id #2 "no way" is not an OpenStack id/);
  assert.match(problems(() => validateBackupServers({ serverIds: ['srv.vol-1'] }, ctx))[0]!, /cannot name its backup/);
  assert.match(problems(() => validateBackupServers({ project: true, concurrency: '17' }, ctx))[0]!, /--concurrency must be a whole number from 1 to 16/);
});

test('a server restore: name or server_<name>/<timestamp>, new name, network map, flavor, key, zone', () => {
  assert.deepEqual(validateRestoreServer({ backup: SRV }, ctx), { node: 'here', storage: { driver: 'local', path: '/var/lib/permafrost/storage' }, name: SRV });
  const input = validateRestoreServer(
    {
      backup: `server_web-1/${TS}`,
      serverName: 'web-1 restored',
      networkMap: ['private=prod-net', 'mgmt = none', 'dmz=3f0c9a1e-1111-2222-3333-444455556666'],
      flavor: 'm1.small',
      keyName: 'none',
      availabilityZone: 'az-2',
      cloud: 'lab-demo',
      timeouts: ['server=20m'],
    },
    ctx
  );
  assert.deepEqual(input, {
    node: 'here',
    cloud: 'lab-demo',
    storage: { driver: 'local', path: '/var/lib/permafrost/storage' },
    name: 'web-1',
    timestamp: TS,
    serverName: 'web-1 restored',
    networkMap: { private: 'prod-net', mgmt: 'none', dmz: '3f0c9a1e-1111-2222-3333-444455556666' },
    flavor: 'm1.small',
    keyName: 'none',
    availabilityZone: 'az-2',
    timeouts: { server: 1_200_000 },
  });
  assert.deepEqual(validateRestoreServer({ backup: 'web-1', networkMap: { private: 'other' } }, ctx).networkMap, { private: 'other' });
  assert.equal(validateRestoreServer({ backup: 'web-1', fromDate: '2026-11-26' }, ctx).fromDate, '2026-11-26');
  assert.equal(validateRestoreServer({ backup: 'web-1', networkMap: [] }, ctx).networkMap, undefined);
});

test('server restore mistakes are reported at once, before anything starts', () => {
  const p = problems(() =>
    validateRestoreServer({ backup: 'web-1', networkMap: ['private', '=x', 'a=', 'b=c', 'b=d'], flavor: '', keyName: 'a\nb', serverName: 'x'.repeat(256), availabilityZone: '' }, ctx)
  );
  assert.equal(p.length, 8, p.join('\n'));
  assert.ok(p.some((m) => m.includes('--network must be <recorded network name>=<network name, id or none> (got "private")')));
  assert.ok(p.some((m) => m.includes('(got "=x")')));
  assert.ok(p.some((m) => m.includes('--network a: the network to attach instead')));
  assert.ok(p.some((m) => m.includes('--network b is given twice')));
  assert.ok(p.some((m) => m.includes('--flavor (a flavor name or id) must be a non-empty text')));
  assert.ok(p.some((m) => m.includes('--key-name (a key pair name, or none) must be a non-empty text')));
  assert.ok(p.some((m) => m.includes('--server-name must be a non-empty text of at most 255 characters')));
  assert.ok(p.some((m) => m.includes('--availability-zone must be a non-empty text')));
  assert.match(problems(() => validateRestoreServer({ backup: `volume_v/${TS}` }, ctx))[0]!, /is a volume backup: restore it with `permafrost restore volume`/);
  assert.match(problems(() => validateRestoreServer({ backup: `image_i/${TS}` }, ctx))[0]!, /is an image backup: restore it with `permafrost restore image`/);
  assert.match(problems(() => validateRestoreVolume({ backup: `server_web-1/${TS}` }, ctx))[0]!, /is a server backup: restore it with `permafrost restore server`/);
  assert.match(problems(() => validateRestoreServer({ backup: `web1_etc/${TS}` }, ctx))[0]!, /is not a server backup \(those are server_<name>\/<timestamp>\)/);
  assert.deepEqual(problems(() => validateRestoreServer({ backup: `server_web-1.root/${TS}` }, ctx)), [
    `server_web-1.root/${TS} is a disk of a server backup: restore the whole server with \`permafrost restore server server_web-1/${TS}\``,
  ]);
  assert.deepEqual(problems(() => validateRestoreServer({ backup: 'web-1.vol-2' }, ctx)), [
    'web-1.vol-2 is a disk of a server backup: restore the whole server with `permafrost restore server web-1`',
  ]);
  assert.match(problems(() => validateRestoreServer({ backup: `server_web-1/${TS}`, fromDate: '2026-11-01' }, ctx))[0]!, /not both/);
  assert.match(problems(() => validateRestoreServer({ backup: 'web-1', networkMap: { private: 42 } as never }, ctx))[0]!, /--network private: the network to attach instead .* must be a non-empty text .*got a number/);
});

test('server inputs carry references only', () => {
  const sneaky = { serverId: SRV, cloud: 'lab-demo', password: 's3cret-pw', adminPass: 's3cret-pw' } as never;
  for (const input of [validateBackupServer(sneaky, ctx), validateBackupServers({ ...(sneaky as object), project: true }, ctx), validateRestoreServer({ ...(sneaky as object), backup: SRV }, ctx)]) {
    const text = JSON.stringify(input);
    assert.ok(!text.includes('s3cret-pw') && !text.includes('password') && !text.includes('adminPass'), text);
    assert.ok(text.includes('"cloud":"lab-demo"'), text);
  }
});
