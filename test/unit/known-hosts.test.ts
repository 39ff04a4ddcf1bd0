import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkHostKey,
  hostFieldMatches,
  hostKeyAlgorithms,
  keyBlobType,
  knownHostName,
  KnownHostsError,
  loadHostKeys,
  lookupHost,
  matchPattern,
  parseKnownHosts,
} from '../../activities/storage/known-hosts';
import { tempDir } from '../helpers/tree';

function sshString(b: Buffer | string): Buffer {
  const data = Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** A public key blob of `type` (random key material: the parser only reads the type). */
function fakeKey(type: string): { type: string; blob: Buffer; text: string } {
  const blob = Buffer.concat([sshString(type), sshString(randomBytes(32))]);
  return { type, blob, text: `${type} ${blob.toString('base64')}` };
}

function hashed(name: string, salt = randomBytes(20)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

const ed = fakeKey('ssh-ed25519');
const ed2 = fakeKey('ssh-ed25519');
const rsa = fakeKey('ssh-rsa');
const ecdsa = fakeKey('ecdsa-sha2-nistp256');
const sk = fakeKey('sk-ssh-ed25519@openssh.com');

test('known host names: bare for port 22, [host]:port otherwise, lower-cased', () => {
  assert.equal(knownHostName('Backup.Example.COM', 22), 'backup.example.com');
  assert.equal(knownHostName('127.0.0.1', 2222), '[127.0.0.1]:2222');
  assert.equal(knownHostName('::1', 2222), '[::1]:2222');
});

test('parsing: comments, blank lines, markers, and invalid lines skipped', () => {
  const text = [
    '# a comment',
    '',
    `   host-a ${ed.text} comment with  spaces`,
    `@revoked * ${ed2.text}`,
    `@cert-authority *.corp ${rsa.text}`,
    `@bogus host-b ${ed.text}`, // unknown marker
    'host-c ssh-ed25519 not*base64', // bad base64
    `host-d ssh-rsa ${ed.blob.toString('base64')}`, // type field does not match the blob
    'host-e 2048 35 1234567890', // SSH-1 key
    `|1|c2hvcnQ=|c2hvcnQ= ${ed.text}`, // hash of the wrong length
    'host-f',
    `host-g\t${ecdsa.text}\r`,
  ].join('\n');
  const known = parseKnownHosts(text);
  assert.deepEqual(known.invalidLines, [6, 7, 8, 9, 10, 11]);
  assert.deepEqual(
    known.entries.map((e) => [e.line, e.marker, e.hosts, e.type]),
    [
      [3, undefined, 'host-a', 'ssh-ed25519'],
      [4, 'revoked', '*', 'ssh-ed25519'],
      [5, 'cert-authority', '*.corp', 'ssh-rsa'],
      [12, undefined, 'host-g', 'ecdsa-sha2-nistp256'],
    ]
  );
  assert.ok(known.entries[0]!.blob.equals(ed.blob));
  assert.equal(keyBlobType(ed.blob), 'ssh-ed25519');
  assert.equal(keyBlobType(Buffer.from([0, 0, 0, 9, 1])), undefined);
});

test('wildcards: * (also empty) and ? (exactly one), whole-string match', () => {
  assert.ok(matchPattern('a.example.com', '*.example.com'));
  assert.ok(!matchPattern('example.com', '*.example.com'));
  assert.ok(matchPattern('anything', '*'));
  assert.ok(matchPattern('', '*'));
  assert.ok(matchPattern('[10.0.0.5]:2222', '[10.0.0.?]:2222'));
  assert.ok(!matchPattern('[10.0.0.55]:2222', '[10.0.0.?]:2222'));
  assert.ok(matchPattern('abxbxc', 'a*b*c'));
  assert.ok(!matchPattern('abxbxd', 'a*b*c'));
  assert.ok(matchPattern('a?c', 'a?c'));
  assert.ok(!matchPattern('host', 'hos'));
});

test('host fields: comma lists, negation vetoes the line, ports, case, hashes', () => {
  assert.ok(hostFieldMatches('one,two,three', 'two'));
  assert.ok(!hostFieldMatches('one,two', 'twox'));
  assert.ok(hostFieldMatches('*.example.com,!bad.example.com', 'good.example.com'));
  assert.ok(!hostFieldMatches('*.example.com,!bad.example.com', 'bad.example.com'));
  assert.ok(!hostFieldMatches('!bad.example.com,*.example.com', 'bad.example.com'), 'the order of ! does not matter');
  assert.ok(!hostFieldMatches('!other', 'host'), 'a negation alone never matches');
  assert.ok(hostFieldMatches('Host.Example.Com', 'host.example.com'));
  assert.ok(hostFieldMatches('[127.0.0.1]:2222', '[127.0.0.1]:2222'));
  assert.ok(!hostFieldMatches('127.0.0.1', '[127.0.0.1]:2222'), 'a bare name is port 22 only');
  assert.ok(!hostFieldMatches('[127.0.0.1]:2222', '127.0.0.1'));
  assert.ok(hostFieldMatches(hashed('[127.0.0.1]:2222'), '[127.0.0.1]:2222'));
  assert.ok(!hostFieldMatches(hashed('[127.0.0.1]:2222'), '[127.0.0.1]:2223'));
  assert.ok(!hostFieldMatches('|1|garbage|garbage', 'x'));
});

test('lookup and check: byte-equal keys only, revoked keys always refused', () => {
  const known = parseKnownHosts(
    [
      `[lab]:2222 ${ed.text}`,
      `[lab]:2222,other ${rsa.text}`,
      `@revoked [lab]:2222 ${ed2.text}`,
      `@cert-authority * ${ecdsa.text}`,
      `lab ${ecdsa.text}`, // port 22 only
    ].join('\n')
  );
  const lab = lookupHost(known, '[lab]:2222');
  assert.deepEqual(
    lab.keys.map((k) => k.line),
    [1, 2]
  );
  assert.deepEqual(
    lab.revoked.map((k) => k.line),
    [3]
  );
  assert.deepEqual(
    lab.certAuthorities.map((k) => k.line),
    [4]
  );
  assert.deepEqual(checkHostKey(lab, ed.blob), { ok: true, entry: lab.keys[0] });
  assert.equal(checkHostKey(lab, rsa.blob).ok, true);
  const other = checkHostKey(lab, ecdsa.blob);
  assert.equal(other.ok, false);
  assert.equal(!other.ok && other.reason, 'mismatch');
  assert.equal(!other.ok && other.presented.type, 'ecdsa-sha2-nistp256');
  assert.match(!other.ok ? other.presented.fingerprint : '', /^SHA256:[A-Za-z0-9+/]{43}$/);
  const revoked = checkHostKey(lab, ed2.blob);
  assert.equal(!revoked.ok && revoked.reason, 'revoked');
  // A key both recorded and revoked is refused.
  const both = lookupHost(parseKnownHosts(`h ${ed.text}\n@revoked h ${ed.text}`), 'h');
  assert.equal(checkHostKey(both, ed.blob).ok, false);
  // A blob that differs in one byte is a mismatch.
  const flipped = Buffer.from(ed.blob);
  flipped[flipped.length - 1]! ^= 1;
  assert.equal(checkHostKey(lab, flipped).ok, false);
});

test('host key algorithms offered: only the recorded types, RSA as rsa-sha2-*, unknown types ignored', () => {
  const k = (text: string) => parseKnownHosts(text).entries;
  assert.deepEqual(hostKeyAlgorithms(k(`h ${ed.text}`)), ['ssh-ed25519']);
  assert.deepEqual(hostKeyAlgorithms(k(`h ${rsa.text}\nh ${ed.text}`)), ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.deepEqual(hostKeyAlgorithms(k(`h ${ecdsa.text}\nh ${sk.text}`)), ['ecdsa-sha2-nistp256']);
  assert.deepEqual(hostKeyAlgorithms(k(`h ${sk.text}`)), []);
});

test('loadHostKeys fails closed: unreadable file, unknown host, only a CA, no usable type', async () => {
  const dir = await tempDir('kh');
  const file = join(dir, 'known_hosts');
  await assert.rejects(loadHostKeys(file, 'h', 22), (e: unknown) => e instanceof KnownHostsError && /cannot be read \(ENOENT\)/.test(e.message));
  await writeFile(file, `[h]:2222 ${ed.text}\n@cert-authority ca.host ${ed.text}\nsk.host ${sk.text}\n`);
  assert.equal((await loadHostKeys(file, 'H', 2222)).keys.length, 1);
  await assert.rejects(loadHostKeys(file, 'h', 22), /host h is not in known_hosts/);
  await assert.rejects(loadHostKeys(file, 'ca.host', 22), /only @cert-authority lines match/);
  await assert.rejects(loadHostKeys(file, 'sk.host', 22), /no key of a supported type/);
});

test('agrees with ssh-keygen -F on a file hashed by ssh-keygen -H', async () => {
  const keygen = spawnSync('ssh-keygen', ['-?'], { encoding: 'utf8' });
  assert.ok(!keygen.error, 'ssh-keygen (openssh-client) is needed for this test: apt-get install openssh-client');
  const dir = await tempDir('kh');
  const keys: Record<string, string> = {};
  for (const [name, type] of [
    ['ed', 'ed25519'],
    ['ed2', 'ed25519'],
    ['ec', 'ecdsa'],
  ] as const) {
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', join(dir, name)]);
    keys[name] = (await readFile(join(dir, `${name}.pub`), 'utf8')).split(' ').slice(0, 2).join(' ');
  }
  const plain = join(dir, 'known_hosts');
  await writeFile(
    plain,
    [
      '# lab',
      `[127.0.0.1]:2222 ${keys.ed} lab host`,
      `127.0.0.1,localhost ${keys.ec}`,
      `backup.example.com,[backup.example.com]:2222 ${keys.ed2}`,
      `*.example.com,!bad.example.com ${keys.ec}`,
      `@revoked [127.0.0.1]:2222 ${keys.ed2}`,
      `@cert-authority *.corp ${keys.ed2}`,
      `[10.0.0.?]:2222 ${keys.ed}`,
      '',
    ].join('\n')
  );
  const hashedFile = join(dir, 'known_hosts.hashed');
  await copyFile(plain, hashedFile);
  execFileSync('ssh-keygen', ['-H', '-f', hashedFile], { stdio: 'ignore' });
  const hashedText = await readFile(hashedFile, 'utf8');
  assert.match(hashedText, /^\|1\|/m, 'ssh-keygen -H hashed some names');
  assert.doesNotMatch(hashedText, /^\[127\.0\.0\.1\]:2222 /m, 'the lab entry is hashed');

  const names = ['[127.0.0.1]:2222', '127.0.0.1', 'localhost', 'backup.example.com', '[backup.example.com]:2222', 'www.example.com', 'bad.example.com', 'x.corp', '[10.0.0.5]:2222', '[10.0.0.55]:2222', 'unknown', '[127.0.0.1]:22'];
  const ours = parseKnownHosts(hashedText);
  assert.deepEqual(ours.invalidLines, []);
  for (const name of names) {
    // ssh-keygen -F prints "# Host <name> found: line <n> [REVOKED|CA]" before every matching line; exit 1 = none.
    const run = spawnSync('ssh-keygen', ['-F', name, '-f', hashedFile], { encoding: 'utf8' });
    assert.ok(run.status === 0 || run.status === 1, `ssh-keygen -F ${name}: ${run.stderr}`);
    const theirs = [...run.stdout.matchAll(/^# Host .* found: line (\d+) ?(REVOKED|CA)?\s*$/gm)].map((m) => `${m[1]}${m[2] ? ` ${m[2]}` : ''}`);
    const found = lookupHost(ours, name);
    const mine = [
      ...found.keys.map((e) => `${e.line}`),
      ...found.revoked.map((e) => `${e.line} REVOKED`),
      ...found.certAuthorities.map((e) => `${e.line} CA`),
    ];
    assert.deepEqual(mine.sort(), theirs.sort(), `matches for ${name}`);
    // And the same keys as in the unhashed original.
    const fromPlain = lookupHost(parseKnownHosts(await readFile(plain, 'utf8')), name);
    assert.deepEqual(
      found.keys.map((e) => e.blob.toString('base64')).sort(),
      fromPlain.keys.map((e) => e.blob.toString('base64')).sort(),
      `hashed vs plain for ${name}`
    );
  }
  const lab = lookupHost(ours, '[127.0.0.1]:2222');
  assert.equal(lab.keys.length, 1);
  assert.equal(`${lab.keys[0]!.type} ${lab.keys[0]!.blob.toString('base64')}`, keys.ed);
});
