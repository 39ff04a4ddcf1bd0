/**
 * Checks the requests of the OpenStack operations (volume, image and server backups and restores, Cinder's own backups,
 * the orphan sweep) and turns them into workflow inputs, before anything starts. Every problem is reported at once, as
 * a ValidationError. The inputs hold references only: a clouds.yaml cloud name (resolved on the node), key files or
 * variables, never a credential.
 */
import { invalidBackupName, parseBackupId, parseBackupTimestamp } from '../workflows/shared/naming';
import { IMAGE_HOST, SERVER_HOST, VOLUME_HOST } from '../workflows/shared/openstack-place';
import type {
  BackupImageInput,
  BackupSelector,
  BackupServerInput,
  BackupServersInput,
  BackupVolumeInput,
  BackupVolumeNativeInput,
  BackupVolumesInput,
  OpenStackPlace,
  OpenStackTimeouts,
  RestoreImageInput,
  RestoreServerInput,
  RestoreVolumeInput,
  RestoreVolumeNativeInput,
  SweepInput,
  VolumeScope,
} from '../workflows/shared/openstack-types';
import { formatDuration, parseDuration } from '../workflows/shared/retention';
import { parseUtcDate } from '../workflows/shared/selection';
import type { EncryptionRef, StorageTarget } from '../workflows/shared/types';
import { checkBlobOptions, checkEncryption, checkLimit, checkNode, countOf, durationOf, storageOf, storagesOf, ValidationError } from './validate';
import type { BlobOptionsRequest, ValidationContext } from './validate';

export const TIMEOUT_KINDS = ['snapshot', 'volume', 'image', 'delete', 'backup', 'server'] as const satisfies readonly (keyof OpenStackTimeouts)[];
export type TimeoutKind = (typeof TIMEOUT_KINDS)[number];

/** Shortest and longest OpenStack wait: a wait runs inside a step that may last at most 7 hours. */
export const MIN_WAIT_TIMEOUT_MS = 10_000;
export const MAX_WAIT_TIMEOUT_MS = 7 * 3_600_000;

/**
 * Limits of the OpenStack waits: one duration for every kind (`2h`), `kind=duration` texts as the CLI takes them
 * (`--wait-timeout volume=45m`, repeatable, later ones win), or an object per kind. Durations are texts (`10m`, `1h`)
 * or milliseconds.
 */
export type TimeoutsRequest = string | number | readonly string[] | Partial<Record<TimeoutKind, string | number>>;

/** Where the OpenStack steps run and which cloud they use. */
export interface PlaceRequest {
  /** Node whose worker calls OpenStack and streams the bytes (default: this host). */
  node?: string;
  /** clouds.yaml cloud on the node (default: the node worker's OS_CLOUD or OS_* environment). */
  cloud?: string;
  region?: string;
  interface?: string;
  timeouts?: TimeoutsRequest;
}

export interface BackupVolumeRequest extends PlaceRequest, BlobOptionsRequest {
  volumeId: string;
  /** Backup name (default: the volume id); stored as `volume_<name>/<timestamp>`. */
  name?: string;
  /** One target, or several that all receive the backup (fan-out). */
  storage?: string | StorageTarget | (string | StorageTarget)[];
}

export interface BackupImageRequest extends PlaceRequest, BlobOptionsRequest {
  imageId: string;
  /** Backup name (default: the image id); stored as `image_<name>/<timestamp>`. */
  name?: string;
  storage?: string | StorageTarget | (string | StorageTarget)[];
}

/** Which stored backup a restore reads. */
export interface RestoreSelectionRequest {
  /** A backup name, or the exact backup as `list` shows it: `volume_<name>/<timestamp>` (`image_...` for images). */
  backup: string;
  /** Exact backup timestamp (`20261126T163400.123Z`). */
  timestamp?: string;
  /** The newest backup taken at or before this ISO 8601 instant (UTC unless a zone is given). */
  fromDate?: string;
  storage?: string | StorageTarget;
  encryption?: EncryptionRef;
  /** Download limit per second, e.g. `50MiB`. */
  bandwidthLimit?: string | number;
}

export interface RestoreVolumeRequest extends PlaceRequest, RestoreSelectionRequest {
  /** Overwrite this existing, detached volume instead of creating a new one. */
  targetVolumeId?: string;
  /** Name of the new volume (default `<original name>~<backup time>`). */
  volumeName?: string;
  volumeType?: string;
  availabilityZone?: string;
}

export interface RestoreImageRequest extends PlaceRequest, RestoreSelectionRequest {
  /** Name of the new image (default `<original name>~<backup time>`). */
  imageName?: string;
}

export interface BackupVolumesRequest extends PlaceRequest, BlobOptionsRequest {
  /** Exactly one of: these volumes, every volume of the project, every volume of every project (admin). */
  volumeIds?: string[];
  project?: boolean;
  allTenants?: boolean;
  storage?: string | StorageTarget | (string | StorageTarget)[];
  /** Volumes backed up at once (default 2, at most 16). */
  concurrency?: number | string;
}

export interface BackupVolumeNativeRequest extends PlaceRequest {
  volumeId: string;
  /** Always a full backup (default: incremental when a full one exists). */
  full?: boolean;
  /** Keep the N newest backups permafrost made of this volume; older ones are deleted. */
  keep?: number | string;
  /** Cinder backup container; the backend's default when absent. */
  container?: string;
}

export interface RestoreVolumeNativeRequest extends PlaceRequest {
  /** The Cinder backup to restore. */
  backupId: string;
  targetVolumeId?: string;
  volumeName?: string;
}

export interface SweepRequest extends PlaceRequest {
  /** Only temporaries created longer ago than this (`1h`, `30m`, or ms; default 1h, at least 1m). */
  grace?: string | number;
  dryRun?: boolean;
  /** Every project (admin credentials). */
  allTenants?: boolean;
}

export interface SweepScheduleRequest extends SweepRequest {
  /** How often the sweep runs (`1h`, `30m`, or ms; at least 5m). */
  every: string | number;
}

export interface BackupServerRequest extends PlaceRequest, BlobOptionsRequest {
  serverId: string;
  /**
   * Backup name (default: the server id); stored as `server_<name>/<timestamp>`, each disk as `server_<name>.root/...`
   * or `server_<name>.vol-<i>/...`.
   */
  name?: string;
  storage?: string | StorageTarget | (string | StorageTarget)[];
  /** Longest wait for the server to have no task (a running snapshot, resize ...) before the snapshot (`30m`, or ms). */
  idleTimeout?: string | number;
}

export interface BackupServersRequest extends PlaceRequest, BlobOptionsRequest {
  /** Exactly one of: these servers, every server of the project, every server of every project (admin). */
  serverIds?: string[];
  project?: boolean;
  allTenants?: boolean;
  storage?: string | StorageTarget | (string | StorageTarget)[];
  /** Servers backed up at once (default 2, at most 16). */
  concurrency?: number | string;
  idleTimeout?: string | number;
}

export interface RestoreServerRequest extends PlaceRequest, RestoreSelectionRequest {
  /** Name of the new server (default `<original name>~<backup time>`). */
  serverName?: string;
  /**
   * Networks to attach instead of the recorded ones, by recorded network name: an object, or `recorded=target` texts as
   * the CLI takes them (`--network private=prod-net`, repeatable); the target is a network name or id, or `none` to
   * leave that network out.
   */
  networkMap?: Record<string, string> | readonly string[];
  /** Boot with this flavor (name or id) instead of the recorded one. */
  flavor?: string;
  /** Key pair instead of the recorded one; `none` boots without a key pair. */
  keyName?: string;
  availabilityZone?: string;
}

export const DEFAULT_CONCURRENCY = 2;
export const MAX_CONCURRENCY = 16;
export const DEFAULT_SWEEP_GRACE_MS = 3_600_000;
/** A younger temporary may belong to a step that has just created it. */
export const MIN_SWEEP_GRACE_MS = 60_000;
export const MIN_SWEEP_INTERVAL_MS = 5 * 60_000;

const INTERFACES = ['public', 'internal', 'admin'] as const;
/** OpenStack ids go into URL paths: UUIDs and the like, nothing that could change the path. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

function isText(v: unknown): v is string {
  return typeof v === 'string';
}

/** A resource id (volume, image, Cinder backup): present and safe in a URL. */
function checkId(value: unknown, what: string, problems: string[]): string | undefined {
  if (!isText(value) || value.trim() === '') {
    problems.push(`${what} is required`);
    return undefined;
  }
  if (!ID_RE.test(value)) {
    problems.push(`${what} ${JSON.stringify(value)} is not an OpenStack id (letters, digits, '-', '_' and '.', e.g. a UUID)`);
    return undefined;
  }
  return value;
}

function hasControl(text: string): boolean {
  return [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}

/** A free-text name or setting (volume name, volume type, zone, region, cloud): non-empty, one line, not too long. */
function checkText(value: unknown, what: string, problems: string[], max = 255): string | undefined {
  if (value === undefined) return undefined;
  if (!isText(value) || value.trim() === '' || value.length > max || hasControl(value)) {
    problems.push(`${what} must be a non-empty text of at most ${max} characters without control characters (got ${isText(value) ? JSON.stringify(value) : `a ${typeof value}`})`);
    return undefined;
  }
  return value;
}

function waitDuration(value: string | number, what: string, problems: string[]): number | undefined {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || !Number.isSafeInteger(ms) || ms < MIN_WAIT_TIMEOUT_MS || ms > MAX_WAIT_TIMEOUT_MS) {
    problems.push(
      `${what} must be a duration from ${formatDuration(MIN_WAIT_TIMEOUT_MS)} to ${formatDuration(MAX_WAIT_TIMEOUT_MS)} such as 10m or 1h (got ${JSON.stringify(value)})`
    );
    return undefined;
  }
  return ms;
}

/** The wait limits of a request; undefined when none is given (the workers' defaults apply). */
export function checkTimeouts(req: TimeoutsRequest | undefined, problems: string[]): OpenStackTimeouts | undefined {
  if (req === undefined) return undefined;
  const out: OpenStackTimeouts = {};
  const all = (ms: number | undefined): void => {
    if (ms !== undefined) for (const k of TIMEOUT_KINDS) out[k] = ms;
  };
  const kindOf = (k: string): TimeoutKind | undefined => {
    if ((TIMEOUT_KINDS as readonly string[]).includes(k)) return k as TimeoutKind;
    problems.push(`unknown wait timeout kind ${JSON.stringify(k)} (known: ${TIMEOUT_KINDS.join(', ')}; or a duration alone for all of them)`);
    return undefined;
  };
  if (typeof req === 'string' || typeof req === 'number') {
    all(waitDuration(req, '--wait-timeout', problems));
  } else if (Array.isArray(req)) {
    for (const item of req as readonly string[]) {
      const eq = item.indexOf('=');
      if (eq < 0) {
        all(waitDuration(item, '--wait-timeout', problems));
        continue;
      }
      const kind = kindOf(item.slice(0, eq).trim());
      const ms = waitDuration(item.slice(eq + 1), `--wait-timeout ${item.slice(0, eq).trim()}`, problems);
      if (kind && ms !== undefined) out[kind] = ms;
    }
  } else {
    for (const [k, v] of Object.entries(req as Record<string, string | number | undefined>)) {
      if (v === undefined) continue;
      const kind = kindOf(k);
      const ms = waitDuration(v, `${k} wait timeout`, problems);
      if (kind && ms !== undefined) out[kind] = ms;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Node, cloud reference and wait limits; only the fields that are set. */
function checkPlace(req: PlaceRequest, ctx: ValidationContext, problems: string[]): OpenStackPlace {
  const node = req.node ?? ctx.localNode;
  checkNode(node, problems);
  const place: OpenStackPlace = { node };
  if (req.cloud !== undefined) {
    const cloud = checkText(req.cloud, '--os-cloud (a clouds.yaml cloud name)', problems);
    if (cloud !== undefined) place.cloud = cloud;
  }
  if (req.region !== undefined) {
    const region = checkText(req.region, '--os-region', problems);
    if (region !== undefined) place.region = region;
  }
  if (req.interface !== undefined) {
    if ((INTERFACES as readonly unknown[]).includes(req.interface)) place.interface = req.interface as OpenStackPlace['interface'];
    else problems.push(`--os-interface must be one of ${INTERFACES.join(', ')}, not ${JSON.stringify(req.interface)}`);
  }
  const timeouts = checkTimeouts(req.timeouts, problems);
  if (timeouts) place.timeouts = timeouts;
  return place;
}

/** `<name>.root` and `<name>.vol-<i>`: the names of a server backup's disks (workflows/backup-server.ts). */
export const SERVER_DISK_SUFFIX = /\.(root|vol-\d+)$/;
/** Room left in a backup name (at most 128 characters) for a disk suffix such as `.vol-12345`. */
const MAX_SERVER_BACKUP_NAME = 118;

/** Backup name: the given one or the resource id. */
function backupNameOf(name: string | undefined, id: string | undefined, problems: string[]): string | undefined {
  const chosen = name ?? id;
  if (chosen === undefined) return undefined;
  const bad = invalidBackupName(chosen);
  if (bad) problems.push(name === undefined ? `${bad} (it defaults to the resource id: give --name)` : bad);
  return bad ? undefined : chosen;
}

function blobBackup(req: PlaceRequest & BlobOptionsRequest & { storage?: string | StorageTarget | (string | StorageTarget)[] }, ctx: ValidationContext, problems: string[]) {
  const place = checkPlace(req, ctx, problems);
  const blob = checkBlobOptions(req, place.node === ctx.localNode, problems);
  const [storage, ...copies] = storagesOf(req.storage, ctx, problems);
  return { place, blob, storage, copies };
}

export function validateBackupVolume(req: BackupVolumeRequest, ctx: ValidationContext): BackupVolumeInput {
  const problems: string[] = [];
  const volumeId = checkId(req.volumeId, 'volume id', problems);
  const name = backupNameOf(req.name, volumeId, problems);
  const { place, blob, storage, copies } = blobBackup(req, ctx, problems);
  if (problems.length > 0 || !volumeId || !name || !blob || !storage) throw new ValidationError(problems);
  return { ...place, ...blob, volumeId, name, storage, ...(copies.length > 0 ? { copies } : {}) };
}

/** A server backup name also names its disks: it may not look like a disk and must leave room for the suffix. */
function serverBackupNameOf(name: string | undefined, id: string | undefined, problems: string[]): string | undefined {
  const chosen = backupNameOf(name, id, problems);
  if (chosen === undefined) return undefined;
  if (SERVER_DISK_SUFFIX.test(chosen)) {
    problems.push(`backup name ${JSON.stringify(chosen)} ends like the name of a server disk (.root, .vol-<i>): give another --name`);
    return undefined;
  }
  if (chosen.length > MAX_SERVER_BACKUP_NAME) {
    problems.push(`backup name ${JSON.stringify(chosen)} is longer than ${MAX_SERVER_BACKUP_NAME} characters (its disks are stored as <name>.root and <name>.vol-<i>): give a shorter --name`);
    return undefined;
  }
  return chosen;
}

/** Which resources a multi-resource backup covers: exactly one of ids, --project, --all-tenants. */
function checkScope(req: { ids?: string[]; project?: boolean; allTenants?: boolean }, noun: 'volume' | 'server', problems: string[]) {
  const ids = req.ids ?? [];
  const chosen = [ids.length > 0, req.project === true, req.allTenants === true].filter(Boolean).length;
  if (chosen !== 1) {
    problems.push(
      chosen === 0
        ? `say which ${noun}s: ${noun} ids, --project (every ${noun} of the project) or --all-tenants (every ${noun} of every project)`
        : `give only one of: ${noun} ids, --project, --all-tenants`
    );
  }
  const checked = ids.map((id, i) => checkId(id, `${noun} id #${i + 1}`, problems));
  if (new Set(ids).size !== ids.length) problems.push(`the same ${noun} is given twice`);
  const kind = req.allTenants ? ('all-tenants' as const) : req.project ? ('project' as const) : ('list' as const);
  // Without problems (the only case the ids are used in), every id is checked.
  return { kind, ids: checked.filter((id): id is string => id !== undefined) };
}

function checkConcurrency(value: number | string | undefined, problems: string[]): number {
  const concurrency = countOf(value) ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    problems.push(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY} (got ${JSON.stringify(value)})`);
  }
  return concurrency;
}

export function validateBackupImage(req: BackupImageRequest, ctx: ValidationContext): BackupImageInput {
  const problems: string[] = [];
  const imageId = checkId(req.imageId, 'image id', problems);
  const name = backupNameOf(req.name, imageId, problems);
  const { place, blob, storage, copies } = blobBackup(req, ctx, problems);
  if (problems.length > 0 || !imageId || !name || !blob || !storage) throw new ValidationError(problems);
  return { ...place, ...blob, imageId, name, storage, ...(copies.length > 0 ? { copies } : {}) };
}

/** The storage "hosts" of OpenStack backups, each restored by `permafrost restore <host>`. */
const OPENSTACK_HOSTS: Partial<Record<string, string>> = { [VOLUME_HOST]: 'a volume', [IMAGE_HOST]: 'an image', [SERVER_HOST]: 'a server' };

/** The backup a restore reads: a name, or `<host>_<name>/<timestamp>` of the right kind, then --timestamp or --from-date. */
function checkSelection(req: RestoreSelectionRequest, host: string, node: string, ctx: ValidationContext, problems: string[]): BackupSelector | undefined {
  let name: string | undefined;
  let timestamp: string | undefined;
  if (!isText(req.backup) || req.backup.trim() === '') {
    problems.push(`the backup to restore is required: its name, or ${host}_<name>/<timestamp> as \`permafrost list --host ${host}\` shows it`);
  } else if (req.backup.includes('/')) {
    const ref = parseBackupId(req.backup);
    if (!ref) problems.push(`backup ${JSON.stringify(req.backup)} is neither a backup name nor ${host}_<name>/<timestamp>`);
    else if (ref.host !== host) {
      const other = OPENSTACK_HOSTS[ref.host];
      problems.push(
        other !== undefined
          ? `backup ${req.backup} is ${other} backup: restore it with \`permafrost restore ${ref.host}\``
          : `backup ${req.backup} is not a ${host} backup (those are ${host}_<name>/<timestamp>)`
      );
    } else ({ name, timestamp } = ref);
  } else {
    const bad = invalidBackupName(req.backup);
    if (bad) problems.push(bad);
    else name = req.backup;
  }
  if (host === SERVER_HOST && name !== undefined && SERVER_DISK_SUFFIX.test(name)) {
    const base = name.replace(SERVER_DISK_SUFFIX, '');
    const server = timestamp !== undefined ? `${SERVER_HOST}_${base}/${timestamp}` : base;
    problems.push(`${req.backup} is a disk of a server backup: restore the whole server with \`permafrost restore server ${server}\``);
    name = undefined;
  }
  if (req.timestamp !== undefined) {
    if (timestamp !== undefined && timestamp !== req.timestamp) problems.push(`--timestamp ${req.timestamp} contradicts the backup ${req.backup}`);
    if (!parseBackupTimestamp(req.timestamp)) problems.push(`--timestamp ${JSON.stringify(req.timestamp)} is not a backup timestamp like 20261126T163400.123Z`);
    else timestamp = req.timestamp;
  }
  if (req.fromDate !== undefined) {
    if (timestamp !== undefined) problems.push('give either an exact backup (--timestamp or <host>_<name>/<timestamp>) or --from-date, not both');
    if (!parseUtcDate(req.fromDate)) problems.push(`--from-date ${JSON.stringify(req.fromDate)} is not an ISO 8601 date (UTC unless a zone is given)`);
  }
  const storage = storageOf(req.storage, ctx, problems);
  const encryption = checkEncryption(req.encryption, node === ctx.localNode, problems);
  const bandwidthLimit = checkLimit(req.bandwidthLimit, problems);
  if (!storage || name === undefined) return undefined;
  return {
    storage,
    name,
    ...(timestamp !== undefined ? { timestamp } : {}),
    ...(req.fromDate !== undefined ? { fromDate: req.fromDate } : {}),
    ...(encryption ? { encryption } : {}),
    ...(bandwidthLimit ? { bandwidthLimit } : {}),
  };
}

export function validateRestoreVolume(req: RestoreVolumeRequest, ctx: ValidationContext): RestoreVolumeInput {
  const problems: string[] = [];
  const place = checkPlace(req, ctx, problems);
  const selector = checkSelection(req, VOLUME_HOST, place.node, ctx, problems);
  const targetVolumeId = req.targetVolumeId === undefined ? undefined : checkId(req.targetVolumeId, '--target-volume', problems);
  const volumeName = checkText(req.volumeName, '--volume-name', problems);
  const volumeType = checkText(req.volumeType, '--volume-type', problems);
  const availabilityZone = checkText(req.availabilityZone, '--availability-zone', problems);
  if (req.targetVolumeId !== undefined && (req.volumeType !== undefined || req.availabilityZone !== undefined)) {
    problems.push('--volume-type and --availability-zone apply to a new volume, not to --target-volume (it keeps its own)');
  }
  if (problems.length > 0 || !selector) throw new ValidationError(problems);
  return {
    ...place,
    ...selector,
    ...(targetVolumeId !== undefined ? { targetVolumeId } : {}),
    ...(volumeName !== undefined ? { volumeName } : {}),
    ...(volumeType !== undefined ? { volumeType } : {}),
    ...(availabilityZone !== undefined ? { availabilityZone } : {}),
  };
}

export function validateRestoreImage(req: RestoreImageRequest, ctx: ValidationContext): RestoreImageInput {
  const problems: string[] = [];
  const place = checkPlace(req, ctx, problems);
  const selector = checkSelection(req, IMAGE_HOST, place.node, ctx, problems);
  const imageName = checkText(req.imageName, '--image-name', problems);
  if (problems.length > 0 || !selector) throw new ValidationError(problems);
  return { ...place, ...selector, ...(imageName !== undefined ? { imageName } : {}) };
}

export function validateBackupVolumes(req: BackupVolumesRequest, ctx: ValidationContext): BackupVolumesInput {
  const problems: string[] = [];
  const { kind, ids } = checkScope({ ids: req.volumeIds, project: req.project, allTenants: req.allTenants }, 'volume', problems);
  const concurrency = checkConcurrency(req.concurrency, problems);
  const { place, blob, storage, copies } = blobBackup(req, ctx, problems);
  if (problems.length > 0 || !blob || !storage) throw new ValidationError(problems);
  const scope: VolumeScope = kind === 'list' ? { kind, volumeIds: ids } : { kind };
  return { ...place, ...blob, storage, ...(copies.length > 0 ? { copies } : {}), scope, concurrency };
}

/** `--idle-timeout`: bounded like the other OpenStack waits. */
function idleTimeoutOf(value: string | number | undefined, problems: string[]): number | undefined {
  return value === undefined ? undefined : waitDuration(value, '--idle-timeout', problems);
}

export function validateBackupServer(req: BackupServerRequest, ctx: ValidationContext): BackupServerInput {
  const problems: string[] = [];
  const serverId = checkId(req.serverId, 'server id', problems);
  const name = serverBackupNameOf(req.name, serverId, problems);
  const idleTimeoutMs = idleTimeoutOf(req.idleTimeout, problems);
  const { place, blob, storage, copies } = blobBackup(req, ctx, problems);
  if (problems.length > 0 || !serverId || !name || !blob || !storage) throw new ValidationError(problems);
  return { ...place, ...blob, serverId, name, storage, ...(copies.length > 0 ? { copies } : {}), ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}) };
}

export function validateBackupServers(req: BackupServersRequest, ctx: ValidationContext): BackupServersInput {
  const problems: string[] = [];
  const { kind, ids } = checkScope({ ids: req.serverIds, project: req.project, allTenants: req.allTenants }, 'server', problems);
  // Each server's backup is named after its id, and its disks after that name.
  for (const id of ids) {
    if (invalidBackupName(id) || SERVER_DISK_SUFFIX.test(id) || id.length > MAX_SERVER_BACKUP_NAME) {
      problems.push(`server id ${JSON.stringify(id)} cannot name its backup (at most ${MAX_SERVER_BACKUP_NAME} characters of A-Z a-z 0-9 . _ -, not ending in .root or .vol-<i>): back it up alone with \`backup server --name\``);
    }
  }
  const concurrency = checkConcurrency(req.concurrency, problems);
  const idleTimeoutMs = idleTimeoutOf(req.idleTimeout, problems);
  const { place, blob, storage, copies } = blobBackup(req, ctx, problems);
  if (problems.length > 0 || !blob || !storage) throw new ValidationError(problems);
  const scope: BackupServersInput['scope'] = kind === 'list' ? { kind, serverIds: ids } : { kind };
  return {
    ...place,
    ...blob,
    storage,
    ...(copies.length > 0 ? { copies } : {}),
    ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
    scope,
    concurrency,
  };
}

/** `--network recorded=target` texts (or an object) -> recorded network name -> network name, id or `none`. */
function checkNetworkMap(value: RestoreServerRequest['networkMap'], problems: string[]): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const pairs: [string, string][] = [];
  if (Array.isArray(value)) {
    for (const item of value as readonly unknown[]) {
      const eq = isText(item) ? item.indexOf('=') : -1;
      if (!isText(item) || eq <= 0) {
        problems.push(`--network must be <recorded network name>=<network name, id or none> (got ${JSON.stringify(item)})`);
        continue;
      }
      pairs.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim()]);
    }
  } else if (typeof value === 'object' && value !== null) {
    // Not-text values are reported by checkText below.
    pairs.push(...Object.entries(value as Record<string, unknown>).map(([k, v]): [string, string] => [k, v as string]));
  } else {
    problems.push(`the network map must be recorded=target texts or an object (got a ${typeof value})`);
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [recorded, target] of pairs) {
    const from = checkText(recorded, '--network: the recorded network name', problems);
    const to = checkText(target, `--network ${recorded}: the network to attach instead (a name, an id, or none)`, problems);
    if (from === undefined || to === undefined) continue;
    if (Object.hasOwn(out, from)) problems.push(`--network ${from} is given twice`);
    else out[from] = to;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export function validateRestoreServer(req: RestoreServerRequest, ctx: ValidationContext): RestoreServerInput {
  const problems: string[] = [];
  const place = checkPlace(req, ctx, problems);
  const selector = checkSelection(req, SERVER_HOST, place.node, ctx, problems);
  const serverName = checkText(req.serverName, '--server-name', problems);
  const networkMap = checkNetworkMap(req.networkMap, problems);
  const flavor = checkText(req.flavor, '--flavor (a flavor name or id)', problems);
  const keyName = checkText(req.keyName, '--key-name (a key pair name, or none)', problems);
  const availabilityZone = checkText(req.availabilityZone, '--availability-zone', problems);
  if (problems.length > 0 || !selector) throw new ValidationError(problems);
  return {
    ...place,
    ...selector,
    ...(serverName !== undefined ? { serverName } : {}),
    ...(networkMap !== undefined ? { networkMap } : {}),
    ...(flavor !== undefined ? { flavor } : {}),
    ...(keyName !== undefined ? { keyName } : {}),
    ...(availabilityZone !== undefined ? { availabilityZone } : {}),
  };
}

export function validateBackupVolumeNative(req: BackupVolumeNativeRequest, ctx: ValidationContext): BackupVolumeNativeInput {
  const problems: string[] = [];
  const place = checkPlace(req, ctx, problems);
  const volumeId = checkId(req.volumeId, 'volume id', problems);
  const keep = countOf(req.keep);
  if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) problems.push(`--keep must be a whole number of at least 1 (got ${JSON.stringify(req.keep)})`);
  const container = checkText(req.container, '--container', problems);
  if (container !== undefined && /[\s/]/.test(container)) problems.push(`--container ${JSON.stringify(container)} may not contain spaces or '/'`);
  if (problems.length > 0 || !volumeId) throw new ValidationError(problems);
  return {
    ...place,
    volumeId,
    incremental: !req.full,
    ...(keep !== undefined ? { keep } : {}),
    ...(container !== undefined ? { container } : {}),
  };
}

export function validateRestoreVolumeNative(req: RestoreVolumeNativeRequest, ctx: ValidationContext): RestoreVolumeNativeInput {
  const problems: string[] = [];
  const place = checkPlace(req, ctx, problems);
  const backupId = checkId(req.backupId, 'Cinder backup id', problems);
  const targetVolumeId = req.targetVolumeId === undefined ? undefined : checkId(req.targetVolumeId, '--target-volume', problems);
  const volumeName = checkText(req.volumeName, '--volume-name', problems);
  if (problems.length > 0 || !backupId) throw new ValidationError(problems);
  return {
    ...place,
    backupId,
    ...(targetVolumeId !== undefined ? { targetVolumeId } : {}),
    ...(volumeName !== undefined ? { volumeName } : {}),
  };
}

function checkSweep(req: SweepRequest, ctx: ValidationContext, problems: string[]): SweepInput {
  const place = checkPlace(req, ctx, problems);
  const graceMs = req.grace === undefined ? DEFAULT_SWEEP_GRACE_MS : durationOf(req.grace, '--grace', problems);
  if (graceMs !== undefined && graceMs < MIN_SWEEP_GRACE_MS) {
    problems.push(`--grace must be at least ${formatDuration(MIN_SWEEP_GRACE_MS)}: a younger temporary may belong to a step that has just created it (got ${formatDuration(graceMs)})`);
  }
  return { ...place, graceMs: graceMs ?? DEFAULT_SWEEP_GRACE_MS, dryRun: req.dryRun ?? false, allTenants: req.allTenants ?? false };
}

export function validateSweep(req: SweepRequest, ctx: ValidationContext): SweepInput {
  const problems: string[] = [];
  const input = checkSweep(req, ctx, problems);
  if (problems.length > 0) throw new ValidationError(problems);
  return input;
}

export function validateSweepSchedule(req: SweepScheduleRequest, ctx: ValidationContext): { everyMs: number; input: SweepInput } {
  const problems: string[] = [];
  const input = checkSweep(req, ctx, problems);
  const everyMs = req.every === undefined ? undefined : durationOf(req.every, '--schedule', problems);
  if (req.every === undefined) problems.push('--schedule needs an interval such as 1h');
  else if (everyMs !== undefined && everyMs < MIN_SWEEP_INTERVAL_MS) {
    problems.push(`--schedule must be at least ${formatDuration(MIN_SWEEP_INTERVAL_MS)} (got ${formatDuration(everyMs)})`);
  }
  if (problems.length > 0 || everyMs === undefined) throw new ValidationError(problems);
  return { everyMs, input };
}
