/** The contract of the OpenStack workflows (volumes, images, Cinder backups): plain data, never a secret. */
import type { BackupRef, BlobStoreOptions, StorageTarget, TargetOutcome } from './types';

/**
 * Which cloud the node talks to: a clouds.yaml cloud name on the node, else the worker's OS_* environment. Only a
 * reference: credentials are resolved on the node and never enter a workflow.
 */
export interface CloudRef {
  cloud?: string;
  region?: string;
  interface?: 'public' | 'internal' | 'admin';
}

/** Limits of the OpenStack waits, in ms (defaults in workflows/shared/openstack-defaults.ts). */
export interface OpenStackTimeouts {
  /** A snapshot until available. */
  snapshot?: number;
  /** A volume until available (from a snapshot or an image, or after a reimage). */
  volume?: number;
  /** An image until active (upload-to-image, or our own upload). */
  image?: number;
  /** A deletion until the resource is gone. */
  delete?: number;
  /** A Cinder backup or restore until done. */
  backup?: number;
  /** A server until it has no task (before a snapshot) or until ACTIVE (a restore). */
  server?: number;
}

/** Where a workflow's OpenStack activities run and which cloud they use. */
export interface OpenStackPlace extends CloudRef {
  /** Worker that calls OpenStack and streams the bytes (task queue `permafrost-node-<node>`). */
  node: string;
  timeouts?: OpenStackTimeouts;
}

/** A volume as recorded in its backup (the shape of Freezer's volume/glance metadata). */
export interface VolumeRecord {
  type: 'volume';
  id: string;
  name: string;
  size: number;
  volumeType: string | null;
  availabilityZone: string | null;
  bootable: boolean;
  encrypted: boolean;
  multiattach: boolean;
  description: string | null;
  metadata: Record<string, string>;
  /** `volume_image_metadata`: the Glance properties of the image the volume was made from. */
  glanceMetadata: Record<string, string>;
  /** It was attached when it was backed up (the snapshot was forced: crash-consistent). */
  attached: boolean;
  /** Format of the stored bytes (the image Cinder uploaded them as); absent = raw. */
  dataFormat?: 'raw' | 'qcow2';
  projectId?: string;
}

/** An image as recorded in its backup. */
export interface ImageRecord {
  type: 'image';
  id: string;
  name: string;
  size: number;
  diskFormat: string | null;
  containerFormat: string | null;
  visibility: string;
  protected: boolean;
  tags: string[];
  minDisk: number;
  minRam: number;
  /** Custom properties and the core ones Glance lets a user set (architecture, os_distro, hw_* ...). */
  properties: Record<string, string>;
  checksum?: string | null;
}

/** How Cinder hands a volume's bytes over: qcow2 (default) skips unallocated space, raw is the whole device. */
export type VolumeImageFormat = 'raw' | 'qcow2';

export interface BackupVolumeInput extends OpenStackPlace, BlobStoreOptions {
  volumeId: string;
  /** Default qcow2. */
  imageFormat?: VolumeImageFormat;
  /** Backup name; default the volume id. Stored as `volume_<name>/<timestamp>`. */
  name?: string;
  storage: StorageTarget;
  copies?: StorageTarget[];
}

export interface BlobBackupStats {
  bytes: number;
  storedBytes: number;
  segments: number;
}

export interface BackupVolumeResult {
  ref: BackupRef;
  volume: VolumeRecord;
  stats: BlobBackupStats;
  targets: TargetOutcome[];
}

/** Which stored backup a restore reads. */
export interface BackupSelector {
  storage: StorageTarget;
  /** Backup name (the volume or image id by default). */
  name: string;
  timestamp?: string;
  fromDate?: string;
  encryption?: BlobStoreOptions['encryption'];
  bandwidthLimit?: number;
}

export interface RestoreVolumeInput extends OpenStackPlace, BackupSelector {
  /** Overwrite this existing, detached volume (Cinder os-reimage) instead of creating a new one. */
  targetVolumeId?: string;
  /** Name of the new volume; default `<original name>~<backup time>`. */
  volumeName?: string;
  volumeType?: string;
  availabilityZone?: string;
}

export interface RestoreVolumeResult {
  ref: BackupRef;
  volumeId: string;
  volumeName: string;
  size: number;
  /** `new`: a volume was created; `existing`: --target-volume was overwritten. */
  into: 'new' | 'existing';
}

export interface BackupImageInput extends OpenStackPlace, BlobStoreOptions {
  imageId: string;
  name?: string;
  storage: StorageTarget;
  copies?: StorageTarget[];
}

export interface BackupImageResult {
  ref: BackupRef;
  image: ImageRecord;
  stats: BlobBackupStats;
  targets: TargetOutcome[];
}

export interface RestoreImageInput extends OpenStackPlace, BackupSelector {
  /** Name of the new image; default `<original name>~<backup time>`. */
  imageName?: string;
}

export interface RestoreImageResult {
  ref: BackupRef;
  imageId: string;
  imageName: string;
  size: number;
}

/** Which volumes a multi-volume backup covers. */
export type VolumeScope =
  | { kind: 'list'; volumeIds: string[] }
  /** Every volume of the project the credentials are scoped to. */
  | { kind: 'project' }
  /** Every volume of every project (admin credentials). */
  | { kind: 'all-tenants' };

export interface BackupVolumesInput extends Omit<BackupVolumeInput, 'volumeId' | 'name'> {
  scope: VolumeScope;
  /** Child workflows running at once (default 2). */
  concurrency?: number;
}

export interface ScopedOutcome<R> {
  id: string;
  workflowId: string;
  ok: boolean;
  result?: R;
  error?: string;
}

export interface BackupVolumesResult {
  total: number;
  succeeded: number;
  failed: number;
  volumes: ScopedOutcome<BackupVolumeResult>[];
}

/** Native Cinder backups (Cinder's own backup service): permafrost drives and waits, Cinder stores. */
export interface BackupVolumeNativeInput extends OpenStackPlace {
  volumeId: string;
  /** Incremental when a full backup of the volume exists (default true). */
  incremental?: boolean;
  /** Keep the N newest backups permafrost made of this volume (and what they depend on); older ones are deleted. */
  keep?: number;
  /** Cinder backup container (Swift container / posix folder); the backend's default when absent. */
  container?: string;
}

export interface NativeBackupRecord {
  id: string;
  name: string;
  volumeId: string;
  incremental: boolean;
  createdAt: string;
  parentId: string | null;
  size: number;
}

export interface BackupVolumeNativeResult {
  backup: NativeBackupRecord;
  /** Backups deleted by keep-N rotation (only permafrost's). */
  rotated: string[];
  /** Backups the rotation planned to delete but left, and why (one made by someone else builds on it, it became busy ...). */
  rotationRefused?: { id: string; reason: string }[];
}

export interface RestoreVolumeNativeInput extends OpenStackPlace {
  /** The Cinder backup to restore; it must be available, there is no fallback to another one. */
  backupId: string;
  /** Restore into this existing available volume instead of a new one. */
  targetVolumeId?: string;
  volumeName?: string;
}

export interface RestoreVolumeNativeResult {
  backupId: string;
  volumeId: string;
  volumeName: string;
  into: 'new' | 'existing';
}

/** Orphan sweep: temporaries permafrost tagged whose workflow is no longer running. */
export interface SweepInput extends OpenStackPlace {
  /** Only resources created more than this long ago (ms) are candidates (default 1 h). */
  graceMs?: number;
  dryRun?: boolean;
  /** Admin: sweep every project. */
  allTenants?: boolean;
  /**
   * Only temporaries of workflows whose id starts with this (two permafrost installations, or tests, sharing a
   * project: each sweeps only its own; default: every permafrost workflow's).
   */
  workflowIdPrefix?: string;
}

export interface SweptResource {
  kind: 'server' | 'image' | 'volume' | 'snapshot' | 'backup';
  id: string;
  name: string;
  workflowId: string;
  createdAt: string;
}

export interface SweepResult {
  dryRun: boolean;
  found: SweptResource[];
  deleted: SweptResource[];
  /** Candidates left alone, with why (their workflow still runs, delete failed ...). */
  skipped: (SweptResource & { reason: string })[];
}

// ---------------------------------------------------------------------------------------------------------------
// Nova servers

/** One disk of a server backup: stored as its own blob backup (`server_<name>.<disk>/<timestamp>`). */
export interface ServerDisk {
  ref: BackupRef;
  /** `root`: the image-booted server's disk (from createImage); `volume`: an attached (or the boot) volume. */
  role: 'root' | 'volume';
  /** 0 for the boot disk; null for other volumes. */
  bootIndex: number | null;
  device: string | null;
  deleteOnTermination: boolean;
  volume?: VolumeRecord;
  image?: ImageRecord;
}

/** A server as recorded in its backup. */
export interface ServerRecord {
  type: 'server';
  id: string;
  name: string;
  flavor: { id?: string; name: string; vcpus: number; ram: number; disk: number; extraSpecs: Record<string, string> };
  /** The image the server was booted from (null: booted from a volume). */
  imageRef: string | null;
  bootFromVolume: boolean;
  /** Networks by name with the server's fixed IPs (and MACs) on each; empty = booted without networks. */
  networks: { name: string; fixedIps: string[]; macs: string[] }[];
  ports: { portId: string; networkId: string; fixedIps: string[] }[];
  securityGroups: string[];
  keyName: string | null;
  metadata: Record<string, string>;
  tags: string[];
  availabilityZone: string | null;
  disks: ServerDisk[];
}

export interface BackupServerInput extends OpenStackPlace, BlobStoreOptions {
  serverId: string;
  /** Format of the volumes' images (default qcow2). */
  imageFormat?: VolumeImageFormat;
  /** Backup name; default the server id. Stored as `server_<name>/<timestamp>` (+ one blob per disk). */
  name?: string;
  storage: StorageTarget;
  copies?: StorageTarget[];
  /** Longest wait for the server to have no task (another snapshot, a resize ...) before the snapshot. */
  idleTimeoutMs?: number;
}

export interface BackupServerResult {
  ref: BackupRef;
  server: ServerRecord;
  stats: BlobBackupStats;
  targets: TargetOutcome[];
}

export interface RestoreServerInput extends OpenStackPlace, BackupSelector {
  /** Default `<name>~<backup time>`. */
  serverName?: string;
  /** Recorded network name -> network name or id to attach instead (`none`: leave it out). */
  networkMap?: Record<string, string>;
  /** Boot with this flavor (name or id) instead of the recorded one. */
  flavor?: string;
  /** Key pair name instead of the recorded one (`none`: without). */
  keyName?: string;
  availabilityZone?: string;
}

export interface RestoreServerResult {
  ref: BackupRef;
  serverId: string;
  serverName: string;
  volumes: { volumeId: string; name: string }[];
}

export interface BackupServersInput extends Omit<BackupServerInput, 'serverId' | 'name'> {
  scope: { kind: 'list'; serverIds: string[] } | { kind: 'project' } | { kind: 'all-tenants' };
  concurrency?: number;
}

export interface BackupServersResult {
  total: number;
  succeeded: number;
  failed: number;
  servers: ScopedOutcome<BackupServerResult>[];
}
