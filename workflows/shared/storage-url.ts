/** Storage targets as operators write them: `local:/srv/backups` (or a bare absolute path). */
import type { SshStorageTarget, StorageTarget, SwiftStorageTarget } from './types';

export const STORAGE_SCHEMES = ['local', 'ssh', 'swift'] as const;

export type ParsedStorage = { ok: true; target: StorageTarget } | { ok: false; reason: string };

export function parseStorageUrl(text: string): ParsedStorage {
  const url = text.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (url.startsWith('/')) return parseStorageUrl(`local:${url}`);
    return { ok: false, reason: `storage ${JSON.stringify(text)} needs a scheme, e.g. local:/srv/backups (known: ${STORAGE_SCHEMES.join(', ')})` };
  }
  const rest = url.slice(scheme.length + 1);
  switch (scheme) {
    case 'local': {
      const path = rest.replace(/^\/\/(?=\/)/, ''); // local:///x and local:/x both mean /x
      if (!path.startsWith('/')) return { ok: false, reason: `local storage needs an absolute path: ${JSON.stringify(text)}` };
      const clean = path.replace(/\/+$/, '') || '/';
      if (clean.split('/').includes('..')) return { ok: false, reason: `local storage path may not contain '..': ${JSON.stringify(text)}` };
      return { ok: true, target: { driver: 'local', path: clean } };
    }
    case 'ssh':
      return parseSshUrl(text, rest);
    case 'swift':
      return parseSwiftUrl(text, rest);
    default:
      return { ok: false, reason: `unknown storage scheme ${JSON.stringify(scheme)} (known: ${STORAGE_SCHEMES.join(', ')})` };
  }
}

/**
 * `ssh://user@host[:port]/abs/root[?identity=/path/key&known_hosts=/path/known_hosts]`: port 22 by default, the user
 * is required, the root is absolute; `identity` and `known_hosts` are files on the node (absolute paths).
 * Percent-escapes are decoded; `[…]` holds an IPv6 address.
 */
function parseSshUrl(text: string, rest: string): ParsedStorage {
  const bad = (why: string): ParsedStorage => ({
    ok: false,
    reason: `ssh storage ${JSON.stringify(text)}: ${why} (form: ssh://user@host[:port]/abs/root[?identity=/path/key&known_hosts=/path/known_hosts])`,
  });
  const m = /^\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/.exec(rest);
  if (!m) return bad('not a URL of the expected form');
  const [, authority = '', rawPath = '', query] = m;
  const at = authority.lastIndexOf('@');
  if (at <= 0) return bad('a user is required');
  // Not echoed: the text holds a password.
  if (authority.slice(0, at).includes(':')) return { ok: false, reason: 'ssh storage URLs may not contain a password; use an identity file or ssh-agent' };
  const hostPort = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9][A-Za-z0-9.-]*))(?::(\d{1,5}))?$/.exec(authority.slice(at + 1));
  if (!hostPort) return bad('invalid host or port');
  const host = (hostPort[1] ?? hostPort[2] ?? '').toLowerCase();
  const port = hostPort[3] === undefined ? 22 : Number(hostPort[3]);
  if (port < 1 || port > 65535) return bad(`port ${port} is out of range`);
  let user: string;
  let path: string;
  const params: Record<string, string> = {};
  try {
    user = decodeURIComponent(authority.slice(0, at));
    path = decodeURIComponent(rawPath);
    for (const pair of query === undefined || query === '' ? [] : query.split('&')) {
      const eq = pair.indexOf('=');
      const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      if (name !== 'identity' && name !== 'known_hosts') return bad(`unknown parameter ${JSON.stringify(name)} (known: identity, known_hosts)`);
      if (name in params) return bad(`parameter ${name} is given twice`);
      const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
      if (!value.startsWith('/') || value.includes('\0')) return bad(`${name} must be an absolute file path on the node`);
      params[name] = value;
    }
  } catch {
    return bad('invalid percent-encoding');
  }
  if (!/^[A-Za-z0-9._][A-Za-z0-9._@-]*$/.test(user)) return bad(`invalid user ${JSON.stringify(user)}`);
  if (!path.startsWith('/')) return bad('an absolute storage path is required, e.g. ssh://backup@host/srv/backups');
  if (path.includes('\0') || path.split('/').includes('..')) return bad("the storage path may not contain '..'");
  const target: SshStorageTarget = { driver: 'ssh', host, port, user, path: path.replace(/\/+$/, '') || '/' };
  if (params.identity !== undefined) target.identityFile = params.identity;
  if (params.known_hosts !== undefined) target.knownHostsFile = params.known_hosts;
  return { ok: true, target };
}

const SWIFT_INTERFACES = ['public', 'internal', 'admin'] as const;

/**
 * Why `name` cannot be the container of a swift storage, or undefined when it can. Swift allows 256 bytes without
 * '/'; the segments go to `<name>_segments`, so `name` gets 247.
 */
export function invalidSwiftContainer(name: string): string | undefined {
  const bytes = encodeURIComponent(name).replace(/%[0-9A-F]{2}/gi, 'x').length; // UTF-8 length, sandbox-safe
  // eslint-disable-next-line no-control-regex
  if (bytes === 0 || bytes > 247 || name.includes('/') || name === '.' || name === '..' || /[\x00-\x1f\x7f]/.test(name)) {
    return `swift container ${JSON.stringify(name)} must be 1-247 bytes without '/' or control characters (its segments go to <container>_segments, and Swift allows 256)`;
  }
  return undefined;
}

/** `swift:<container>[?cloud=<clouds.yaml entry>&region=<region>&interface=public|internal|admin]`, percent-decoded. */
function parseSwiftUrl(text: string, rest: string): ParsedStorage {
  const bad = (why: string): ParsedStorage => ({
    ok: false,
    reason: `swift storage ${JSON.stringify(text)}: ${why} (form: swift:<container>[?cloud=<name>&region=<region>&interface=public|internal|admin])`,
  });
  const q = rest.indexOf('?');
  const target: SwiftStorageTarget = { driver: 'swift', container: '' };
  try {
    target.container = decodeURIComponent(q < 0 ? rest : rest.slice(0, q));
    const seen = new Set<string>();
    for (const pair of q < 0 ? [] : rest.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
      if (seen.has(name)) return bad(`parameter ${name} is given twice`);
      seen.add(name);
      if (value === '') return bad(`parameter ${name} needs a value`);
      if (name === 'cloud') target.cloud = value;
      else if (name === 'region') target.region = value;
      else if (name === 'interface') {
        const iface = SWIFT_INTERFACES.find((i) => i === value);
        if (iface === undefined) return bad(`interface must be one of ${SWIFT_INTERFACES.join(', ')}`);
        target.interface = iface;
      } else return bad(`unknown parameter ${JSON.stringify(name)} (known: cloud, region, interface)`);
    }
  } catch {
    return bad('invalid percent-encoding');
  }
  const invalid = invalidSwiftContainer(target.container);
  return invalid === undefined ? { ok: true, target } : bad(invalid);
}

/** A display form without secrets (there are none in a target, only references). */
export function formatStorage(target: StorageTarget): string {
  switch (target.driver) {
    case 'local':
      return `local:${target.path}`;
    case 'swift':
      return formatSwift(target);
    case 'ssh':
      return `ssh://${target.user}@${target.host}:${target.port}${target.path}`;
  }
}

/** Round-trips through parseStorageUrl (the client re-parses formatted targets). */
function formatSwift(target: SwiftStorageTarget): string {
  const params = (['cloud', 'region', 'interface'] as const).flatMap((k) => {
    const v = target[k];
    return v === undefined ? [] : [`${k}=${encodeURIComponent(v)}`];
  });
  return `swift:${encodeURIComponent(target.container)}${params.length > 0 ? `?${params.join('&')}` : ''}`;
}
