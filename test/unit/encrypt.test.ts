import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decryptSegment,
  DecryptionFailedError,
  ENCRYPTION_OVERHEAD,
  EncryptionKeyError,
  encryptSegment,
  keyId,
  loadKey,
  parseKey,
} from '../../activities/pipeline/encrypt';
import { tempDir } from '../helpers/tree';

const key = { key: randomBytes(32), id: '' };
key.id = keyId(key.key);

test('segments round-trip; each has a fresh nonce and a fixed overhead', () => {
  const plain = randomBytes(100_000);
  const a = encryptSegment(plain, key, 'h_n/t#0');
  const b = encryptSegment(plain, key, 'h_n/t#0');
  assert.equal(a.length, plain.length + ENCRYPTION_OVERHEAD);
  assert.notDeepEqual(a, b, 'random nonce: same plaintext, different ciphertext');
  assert.deepEqual(decryptSegment(a, key, 'h_n/t#0'), plain);
  assert.equal(a.indexOf(plain.subarray(0, 32)), -1, 'no plaintext in the stored bytes');
});

test('a wrong key, a flipped bit, or a segment moved to another place fails authentication', () => {
  const stored = encryptSegment(Buffer.from('payload'), key, 'h_n/t#3');
  const other = { key: randomBytes(32), id: 'x' };
  assert.throws(() => decryptSegment(stored, other, 'h_n/t#3'), DecryptionFailedError);
  const flipped = Buffer.from(stored);
  flipped[20] = flipped[20]! ^ 1;
  assert.throws(() => decryptSegment(flipped, key, 'h_n/t#3'), /failed authentication/);
  assert.throws(() => decryptSegment(stored, key, 'h_n/t#4'), /failed authentication/, 'swapped segment index');
  assert.throws(() => decryptSegment(Buffer.from('short'), key, 'h_n/t#3'), /not an encrypted/);
});

test('keys: raw, hex or base64; from a private file or an environment variable; never echoed', async () => {
  const raw = randomBytes(32);
  assert.deepEqual(parseKey(raw, 'k'), raw);
  assert.deepEqual(parseKey(`${raw.toString('hex')}\n`, 'k'), raw);
  assert.deepEqual(parseKey(raw.toString('base64'), 'k'), raw);
  assert.throws(() => parseKey('too-short', 'k'), EncryptionKeyError);

  const dir = await tempDir('keys');
  const file = join(dir, 'backup.key');
  await writeFile(file, raw.toString('hex'));
  await chmod(file, 0o600);
  assert.equal((await loadKey({ keyFile: file })).id, keyId(raw));
  await chmod(file, 0o644);
  await assert.rejects(loadKey({ keyFile: file }), /readable by group or others/);
  await assert.rejects(loadKey({ keyFile: join(dir, 'missing') }), /cannot be read on this node: ENOENT/);
  assert.equal((await loadKey({ keyEnv: 'PF_KEY' }, { PF_KEY: raw.toString('base64') })).id, keyId(raw));
  await assert.rejects(
    loadKey({ keyEnv: 'PF_KEY' }, { PF_KEY: 'not-a-key-but-a-secret' }),
    (e: unknown) => e instanceof EncryptionKeyError && !e.message.includes('not-a-key-but-a-secret')
  );
  await assert.rejects(loadKey({ keyEnv: 'PF_UNSET' }, {}), /is not set/);
});
