/**
 * OpenSSH known_hosts, read-only: parse a file, find the keys recorded for a host, check a presented host key.
 * Follows sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT": comma-separated patterns with `*`/`?` wildcards and `!` negation,
 * `[host]:port` for ports other than 22, hashed names (`|1|salt|hmac-sha1`), `@revoked` and `@cert-authority`
 * markers. Certificates are not supported: `@cert-authority` lines are parsed but never accept a key.
 * Fails closed: no entry for the host, an unreadable file or a revoked key all refuse the host.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export type KnownHostMarker = 'revoked' | 'cert-authority';

export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  marker?: KnownHostMarker;
  /** The host field as written: a comma-separated pattern list, or one hashed name `|1|salt|hash`. */
  hosts: string;
  /** Key type as written (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, …). */
  type: string;
  /** The decoded public key blob (what the server sends in its key exchange). */
  blob: Buffer;
}

export interface KnownHosts {
  entries: KnownHostEntry[];
  /** Lines that are neither blank, comments nor valid entries (skipped, as OpenSSH does). */
  invalidLines: number[];
}

/** The name known_hosts records for a host: `host` for port 22, `[host]:port` otherwise (lower-cased). */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The type name inside a public key blob (its first SSH string), or undefined when the blob is malformed. */
export function keyBlobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** `SHA256:…` fingerprint as ssh-keygen -l prints it (of a public key: safe to show). */
export function keyFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function parseKnownHosts(text: string): KnownHosts {
  const entries: KnownHostEntry[] = [];
  const invalidLines: number[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/[ \t]+/);
    let marker: KnownHostMarker | undefined;
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else {
        invalidLines.push(i + 1);
        continue;
      }
    }
    const [hosts, type, key] = fields;
    if (hosts === undefined || type === undefined || key === undefined || !BASE64.test(key)) {
      invalidLines.push(i + 1); // includes the legacy SSH-1 `bits exponent modulus` form
      continue;
    }
    const blob = Buffer.from(key, 'base64');
    if (keyBlobType(blob) !== type || (hosts.startsWith('|') && !parseHashedName(hosts))) {
      invalidLines.push(i + 1);
      continue;
    }
    entries.push(marker ? { line: i + 1, marker, hosts, type, blob } : { line: i + 1, hosts, type, blob });
  }
  return { entries, invalidLines };
}

function parseHashedName(field: string): { salt: Buffer; hash: Buffer } | undefined {
  const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(field);
  if (!m) return undefined;
  const salt = Buffer.from(m[1]!, 'base64');
  const hash = Buffer.from(m[2]!, 'base64');
  return salt.length === 20 && hash.length === 20 ? { salt, hash } : undefined;
}

/** OpenSSH match_pattern: `*` any run of characters (also none), `?` exactly one; the whole string must match. */
export function matchPattern(text: string, pattern: string): boolean {
  // Iterative glob with single-star backtracking: linear-ish, no regex construction from untrusted input.
  let t = 0;
  let p = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      t++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Whether an entry's host field names `name` (as made by knownHostName). A matching `!pattern` vetoes the line. */
export function hostFieldMatches(hosts: string, name: string): boolean {
  const host = name.toLowerCase();
  if (hosts.startsWith('|')) {
    const hashed = parseHashedName(hosts);
    return hashed !== undefined && createHmac('sha1', hashed.salt).update(host).digest().equals(hashed.hash);
  }
  let positive = false;
  for (const raw of hosts.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (pattern === '' || !matchPattern(host, pattern)) continue;
    if (negated) return false;
    positive = true;
  }
  return positive;
}

export interface HostKeys {
  name: string;
  /** Keys that identify the host (plain entries). */
  keys: KnownHostEntry[];
  /** Keys that must be refused for the host. */
  revoked: KnownHostEntry[];
  /** `@cert-authority` entries for the host: certificates are not supported, so they accept nothing. */
  certAuthorities: KnownHostEntry[];
}

export function lookupHost(known: KnownHosts, name: string): HostKeys {
  const out: HostKeys = { name, keys: [], revoked: [], certAuthorities: [] };
  for (const e of known.entries) {
    if (!hostFieldMatches(e.hosts, name)) continue;
    if (e.marker === 'revoked') out.revoked.push(e);
    else if (e.marker === 'cert-authority') out.certAuthorities.push(e);
    else out.keys.push(e);
  }
  return out;
}

export type HostKeyVerdict =
  | { ok: true; entry: KnownHostEntry }
  | { ok: false; reason: 'revoked' | 'mismatch'; presented: { type: string; fingerprint: string } };

/** Byte-for-byte comparison of the presented key blob with the recorded ones; a revoked key always loses. */
export function checkHostKey(host: HostKeys, presented: Buffer): HostKeyVerdict {
  const summary = { type: keyBlobType(presented) ?? 'unknown', fingerprint: keyFingerprint(presented) };
  if (host.revoked.some((e) => e.blob.equals(presented))) return { ok: false, reason: 'revoked', presented: summary };
  const entry = host.keys.find((e) => e.blob.equals(presented));
  return entry ? { ok: true, entry } : { ok: false, reason: 'mismatch', presented: summary };
}

/**
 * ssh2 host key algorithm names that can present the recorded keys, in ssh2's preference order. Offering only these
 * makes the server present a key whose type known_hosts has (an RSA key signs as rsa-sha2-512/256 or ssh-rsa).
 */
const ALGORITHMS_BY_KEY_TYPE: Record<string, readonly string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss'],
};
const ALGORITHM_ORDER = Object.values(ALGORITHMS_BY_KEY_TYPE).flat();

export function hostKeyAlgorithms(keys: readonly KnownHostEntry[]): string[] {
  const wanted = new Set(keys.flatMap((k) => ALGORITHMS_BY_KEY_TYPE[k.type] ?? []));
  return ALGORITHM_ORDER.filter((a) => wanted.has(a));
}

export class KnownHostsError extends Error {
  override readonly name = 'KnownHostsError';
}

/**
 * Reads `file` and returns the keys for `host`:`port`, or throws KnownHostsError when the file cannot be read, the
 * host has no entry, or none of its keys has a type this client can verify.
 */
export async function loadHostKeys(file: string, host: string, port: number): Promise<HostKeys> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new KnownHostsError(`known_hosts file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); refusing to connect`);
  }
  const name = knownHostName(host, port);
  const found = lookupHost(parseKnownHosts(text), name);
  if (found.keys.length === 0) {
    const ca = found.certAuthorities.length > 0 ? ' (only @cert-authority lines match, and host certificates are not supported)' : '';
    throw new KnownHostsError(`host ${name} is not in known_hosts ${file}${ca}; add its key (ssh-keyscan, checked out of band) and retry`);
  }
  if (hostKeyAlgorithms(found.keys).length === 0) {
    throw new KnownHostsError(`known_hosts ${file} has no key of a supported type for ${name} (found: ${[...new Set(found.keys.map((k) => k.type))].join(', ')})`);
  }
  return found;
}
