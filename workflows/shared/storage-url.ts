/** Storage targets as operators write them: `local:/srv/backups` (or a bare absolute path). */
import type { StorageTarget } from './types';

export const STORAGE_SCHEMES = ['local'] as const;

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
    default:
      return { ok: false, reason: `unknown storage scheme ${JSON.stringify(scheme)} (known: ${STORAGE_SCHEMES.join(', ')})` };
  }
}

/** A display form without secrets (there are none in a target, only references). */
export function formatStorage(target: StorageTarget): string {
  switch (target.driver) {
    case 'local':
      return `local:${target.path}`;
    case 'swift':
      return `swift:${target.container}${target.cloud ? `?cloud=${target.cloud}` : ''}`;
    case 'ssh':
      return `ssh://${target.user}@${target.host}:${target.port}${target.path}`;
  }
}
