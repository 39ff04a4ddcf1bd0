/**
 * Per-segment AES-256-GCM. Each stored segment is `PFE1 | nonce(12) | ciphertext | tag(16)`, with a fresh random
 * nonce and the backup id + segment index as associated data, so segments cannot be swapped between positions or
 * backups unnoticed. Keys come from a file or an environment variable on the node (references only); a short key id
 * (a hash of the key, not the key) in the manifest tells a wrong key apart from damaged data.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { EncryptionRef } from '../../workflows/shared/types';

const MAGIC = Buffer.from('PFE1');
const NONCE = 12;
const TAG = 16;
export const ENCRYPTION_OVERHEAD = MAGIC.length + NONCE + TAG;

/** The key reference cannot be resolved, or holds no 256-bit key. */
export class EncryptionKeyError extends Error {
  override readonly name = 'EncryptionKeyError';
}

/** A segment failed authentication: wrong key, or data altered after it was written. */
export class DecryptionFailedError extends Error {
  override readonly name = 'DecryptionFailedError';
}

export interface SegmentKey {
  key: Buffer;
  id: string;
}

/** 32 raw bytes, 64 hex characters, or base64 of 32 bytes (surrounding white space ignored). */
export function parseKey(material: Buffer | string, where: string): Buffer {
  const raw = typeof material === 'string' ? Buffer.from(material) : material;
  if (raw.length === 32) return Buffer.from(raw);
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) {
    const b = Buffer.from(text, 'base64');
    if (b.length === 32) return b;
  }
  throw new EncryptionKeyError(`${where} does not hold a 256-bit key (32 raw bytes, 64 hex characters or base64)`);
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update('permafrost-key-id:').update(key).digest('hex').slice(0, 16);
}

/** Reads the key a reference points to. Never includes key material in errors. */
export async function loadKey(ref: EncryptionRef, env: NodeJS.ProcessEnv = process.env): Promise<SegmentKey> {
  let key: Buffer;
  if (ref.keyFile !== undefined) {
    let st;
    try {
      st = await stat(ref.keyFile);
    } catch (err) {
      throw new EncryptionKeyError(`key file ${ref.keyFile} cannot be read on this node: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if ((st.mode & 0o077) !== 0) throw new EncryptionKeyError(`key file ${ref.keyFile} is readable by group or others; chmod 600 it`);
    key = parseKey(await readFile(ref.keyFile), `key file ${ref.keyFile}`);
  } else if (ref.keyEnv !== undefined) {
    const value = env[ref.keyEnv];
    if (value === undefined || value === '') throw new EncryptionKeyError(`environment variable ${ref.keyEnv} is not set on this node`);
    key = parseKey(value, `environment variable ${ref.keyEnv}`);
  } else {
    throw new EncryptionKeyError('an encryption key reference needs keyFile or keyEnv');
  }
  return { key, id: keyId(key) };
}

export function encryptSegment(plain: Buffer, key: SegmentKey, aad: string): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce);
  cipher.setAAD(Buffer.from(aad));
  // One concat: the segment-sized ciphertext is copied once (array elements are evaluated in order: final, then tag).
  return Buffer.concat([MAGIC, nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

export function decryptSegment(stored: Buffer, key: SegmentKey, aad: string): Buffer {
  if (stored.length < ENCRYPTION_OVERHEAD || !stored.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new DecryptionFailedError(`segment ${aad} is not an encrypted permafrost segment`);
  }
  const nonce = stored.subarray(MAGIC.length, MAGIC.length + NONCE);
  const tag = stored.subarray(stored.length - TAG);
  const decipher = createDecipheriv('aes-256-gcm', key.key, nonce);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  try {
    const plain = decipher.update(stored.subarray(MAGIC.length + NONCE, stored.length - TAG));
    const rest = decipher.final(); // authenticates; empty for GCM
    return rest.length === 0 ? plain : Buffer.concat([plain, rest]);
  } catch {
    throw new DecryptionFailedError(`segment ${aad} failed authentication: wrong key or the data was altered`);
  }
}
