import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStorage, parseStorageUrl } from '../../workflows/shared/storage-url';
import { validateList, ValidationError } from '../../client/validate';
import type { StorageTarget } from '../../workflows/shared/types';

test('local storage URLs', () => {
  assert.deepEqual(parseStorageUrl('local:/srv/backups/'), { ok: true, target: { driver: 'local', path: '/srv/backups' } });
  assert.deepEqual(parseStorageUrl('local:///srv/b'), { ok: true, target: { driver: 'local', path: '/srv/b' } });
  assert.deepEqual(parseStorageUrl('/srv/b'), { ok: true, target: { driver: 'local', path: '/srv/b' } });
  assert.equal(formatStorage({ driver: 'local', path: '/srv/b' }), 'local:/srv/b');
});

test('unknown schemes and relative paths are refused with a reason', () => {
  const unknown = parseStorageUrl('ftp://host/x');
  assert.equal(unknown.ok, false);
  assert.match(unknown.ok ? '' : unknown.reason, /unknown storage scheme "ftp"/);
  assert.equal(parseStorageUrl('local:relative').ok, false);
  assert.equal(parseStorageUrl('backups').ok, false);
  assert.equal(parseStorageUrl('local:/srv/../etc').ok, false);
});

test('ssh storage URLs', () => {
  assert.deepEqual(parseStorageUrl('ssh://backup@store.example.com/srv/backups/'), {
    ok: true,
    target: { driver: 'ssh', host: 'store.example.com', port: 22, user: 'backup', path: '/srv/backups' },
  });
  assert.deepEqual(parseStorageUrl('ssh://root@127.0.0.1:2222/tmp/store?identity=/etc/permafrost/id_ed25519&known_hosts=/etc/permafrost/known%20hosts'), {
    ok: true,
    target: {
      driver: 'ssh',
      host: '127.0.0.1',
      port: 2222,
      user: 'root',
      path: '/tmp/store',
      identityFile: '/etc/permafrost/id_ed25519',
      knownHostsFile: '/etc/permafrost/known hosts',
    },
  });
  assert.deepEqual(parseStorageUrl('SSH://u@[::1]:2200/'), { ok: true, target: { driver: 'ssh', host: '::1', port: 2200, user: 'u', path: '/' } });
  assert.equal(formatStorage({ driver: 'ssh', host: 'h', port: 22, user: 'u', path: '/x', identityFile: '/k' }), 'ssh://u@h:22/x');
});

test('bad ssh storage URLs are refused with a reason', () => {
  const reason = (url: string): string => {
    const parsed = parseStorageUrl(url);
    assert.equal(parsed.ok, false, url);
    return parsed.ok ? '' : parsed.reason;
  };
  assert.match(reason('ssh://host/srv'), /a user is required/);
  assert.match(reason('ssh://u@host'), /absolute storage path/);
  assert.match(reason('ssh://u@host:0/srv'), /out of range/);
  assert.match(reason('ssh://u@host:70000/srv'), /out of range/);
  assert.match(reason('ssh://u@host:port/srv'), /invalid host or port/);
  assert.match(reason('ssh://u@ho st/srv'), /invalid host or port/);
  assert.match(reason('ssh://u@host/srv/../etc'), /may not contain '\.\.'/);
  assert.match(reason('ssh://u@host/srv?identity=relative/key'), /identity must be an absolute file path/);
  assert.match(reason('ssh://u@host/srv?identity=/a&identity=/b'), /given twice/);
  assert.match(reason('ssh://u@host/srv?password=x'), /unknown parameter "password"/);
  assert.match(reason('ssh://u@host/srv%zz'), /percent-encoding/);
  assert.match(reason('ssh:host/srv'), /expected form/);
  const password = reason('ssh://u:hunter2@host/srv');
  assert.match(password, /may not contain a password/);
  assert.ok(!password.includes('hunter2'), 'the password is not echoed');
});

test('storage targets given as objects pass validation unchanged (ssh keeps identityFile and knownHostsFile)', () => {
  const ctx = { localNode: 'here', defaultStorage: 'local:/var/lib/permafrost/storage' };
  const ssh: StorageTarget = { driver: 'ssh', host: 'h', port: 2222, user: 'u', path: '/srv', identityFile: '/k', knownHostsFile: '/kh' };
  assert.deepEqual(validateList({ storage: ssh }, ctx).storage, ssh);
  assert.deepEqual(validateList({ storage: { driver: 'local', path: '/srv/b' } }, ctx).storage, { driver: 'local', path: '/srv/b' });
  assert.deepEqual(validateList({ storage: 'ssh://u@h:2222/srv?identity=/k&known_hosts=/kh' }, ctx).storage, ssh);
  const bad = { driver: 'ssh', host: '', port: 0, user: 'u', path: 'rel', identityFile: 'k' } as StorageTarget;
  assert.throws(
    () => validateList({ storage: bad }, ctx),
    (e: unknown) => e instanceof ValidationError && /ssh storage needs a host, a port from 1 to 65535, an absolute path without '\.\.', an absolute identityFile/.test(e.message)
  );
  assert.throws(() => validateList({ storage: { driver: 'ftp' } as unknown as StorageTarget }, ctx), /unknown storage driver "ftp"/);
});

test('swift storage URLs', () => {
  assert.deepEqual(parseStorageUrl('swift:backups'), { ok: true, target: { driver: 'swift', container: 'backups' } });
  assert.deepEqual(parseStorageUrl('swift:backups?cloud=prod&region=RegionTwo&interface=internal'), {
    ok: true,
    target: { driver: 'swift', container: 'backups', cloud: 'prod', region: 'RegionTwo', interface: 'internal' },
  });
  assert.deepEqual(parseStorageUrl('SWIFT:my%20box?region=r1'), { ok: true, target: { driver: 'swift', container: 'my box', region: 'r1' } });
  assert.equal(formatStorage({ driver: 'swift', container: 'backups' }), 'swift:backups');
  for (const target of [
    { driver: 'swift', container: 'b', cloud: 'prod', region: 'RegionTwo', interface: 'admin' },
    { driver: 'swift', container: 'odd?&%name', cloud: 'a&b=c' },
    { driver: 'swift', container: 'ü'.repeat(123) },
  ] as const) {
    assert.deepEqual(parseStorageUrl(formatStorage(target)), { ok: true, target }, 'formatStorage round-trips');
  }
});

test('bad swift storage URLs are refused with a reason', () => {
  const reason = (url: string): string => {
    const parsed = parseStorageUrl(url);
    assert.equal(parsed.ok, false, url);
    return parsed.ok ? '' : parsed.reason;
  };
  assert.match(reason('swift:'), /must be 1-247 bytes/);
  assert.match(reason('swift:a/b'), /without '\/'/);
  assert.match(reason('swift://container'), /without '\/'/);
  assert.match(reason(`swift:${'c'.repeat(248)}`), /1-247 bytes .*<container>_segments/);
  assert.match(reason(`swift:${'ü'.repeat(124)}`), /1-247 bytes/);
  assert.ok(parseStorageUrl(`swift:${'c'.repeat(247)}`).ok);
  assert.match(reason('swift:..'), /must be 1-247 bytes/);
  assert.match(reason('swift:a%0Ab'), /control characters/);
  assert.match(reason('swift:b?interface=private'), /interface must be one of public, internal, admin/);
  assert.match(reason('swift:b?cloud='), /cloud needs a value/);
  assert.match(reason('swift:b?cloud=a&cloud=b'), /given twice/);
  assert.match(reason('swift:b?password=x'), /unknown parameter "password" \(known: cloud, region, interface\)/);
  assert.match(reason('swift:b%zz'), /percent-encoding/);
});
