/** Flag parsers and option groups shared by the CLI commands. */
import { Option } from 'commander';
import type { Command } from 'commander';
import { ValidationError } from '../validate';
import { COMPRESSIONS } from '../../workflows/shared/types';
import type { EncryptionRef } from '../../workflows/shared/types';
import type { BlobOptionsRequest } from '../validate';
import type { PlaceRequest, RestoreSelectionRequest } from '../validate-openstack';
import { TIMEOUT_KINDS } from '../validate-openstack';

export interface KeyFlags {
  keyFile?: string;
  keyEnv?: string;
  limit?: string;
}

export function keyRef(o: KeyFlags): EncryptionRef | undefined {
  return o.keyFile !== undefined || o.keyEnv !== undefined ? { keyFile: o.keyFile, keyEnv: o.keyEnv } : undefined;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new ValidationError([`${JSON.stringify(value)} is not an integer`]);
  return n;
}

/** Node, cloud reference and wait limits of an OpenStack command. */
export interface PlaceFlags {
  node?: string;
  osCloud?: string;
  osRegion?: string;
  osInterface?: string;
  waitTimeout?: string[];
}

export function addPlaceOptions(cmd: Command): Command {
  return cmd
    .option('--node <node>', 'node whose worker calls OpenStack and moves the bytes (default: this host)')
    .option('--os-cloud <name>', "clouds.yaml cloud on the node (default: the node worker's OS_CLOUD or OS_* environment)")
    .option('--os-region <region>', 'region of the cloud (default: the cloud entry\'s)')
    .addOption(new Option('--os-interface <interface>', 'endpoint interface (default: the cloud entry\'s, else public)').choices(['public', 'internal', 'admin']))
    .option(
      '--wait-timeout <[kind=]duration>',
      `limit of the OpenStack waits, e.g. 2h for all, or volume=45m for one kind (${TIMEOUT_KINDS.join(', ')}); repeatable`,
      collect
    );
}

export function placeOf(o: PlaceFlags): PlaceRequest {
  return { node: o.node, cloud: o.osCloud, region: o.osRegion, interface: o.osInterface, timeouts: o.waitTimeout };
}

/** Storage and stream options of a backup, as `backup fs` takes them. */
export interface BlobFlags extends KeyFlags {
  storage?: string[];
  compression: string;
  level?: number;
  segmentSize: string;
}

export function addBlobBackupOptions(cmd: Command): Command {
  return cmd
    .option('--storage <url>', 'where to store, e.g. local:/srv/backups (env PERMAFROST_STORAGE); repeat to fan out to several', collect)
    .addOption(new Option('--compression <alg>', 'compression').choices([...COMPRESSIONS]).default('zstd'))
    .option('--level <n>', 'compression level', intArg)
    .option('--segment-size <size>', 'bytes per stored segment, e.g. 64MiB', '64MiB')
    .option('--key-file <path>', 'encrypt (AES-256-GCM per segment) with the 256-bit key in this file on the node (mode 600)')
    .option('--key-env <var>', "encrypt with the key in this environment variable of the node's worker")
    .option('--limit <rate>', 'upload bandwidth limit per second, e.g. 50MiB');
}

export function blobOf(o: BlobFlags): BlobOptionsRequest & { storage?: string[] } {
  return {
    storage: o.storage,
    compression: o.compression,
    compressionLevel: o.level,
    segmentSize: o.segmentSize,
    encryption: keyRef(o),
    bandwidthLimit: o.limit,
  };
}

/** Which stored backup a restore reads, and how. */
export interface SelectionFlags extends KeyFlags {
  timestamp?: string;
  fromDate?: string;
  storage?: string;
}

export function addSelectionOptions(cmd: Command): Command {
  return cmd
    .option('--timestamp <timestamp>', 'exact backup, e.g. 20261126T163400.123Z (default: the newest)')
    .option('--from-date <iso8601>', 'newest backup taken at or before this instant (UTC unless a zone is given)')
    .option('--storage <url>', 'where the backup is stored')
    .option('--key-file <path>', 'key file of an encrypted backup, on the node')
    .option('--key-env <var>', "environment variable of the node's worker holding the key")
    .option('--limit <rate>', 'download bandwidth limit per second, e.g. 50MiB');
}

export function selectionOf(backup: string, o: SelectionFlags): RestoreSelectionRequest {
  return { backup, timestamp: o.timestamp, fromDate: o.fromDate, storage: o.storage, encryption: keyRef(o), bandwidthLimit: o.limit };
}

export const EXIT_HELP = `
Exit status: 0 success, 1 the run failed, 2 invalid input, 3 cancelled, terminated or timed out,
4 Temporal or a worker unavailable, 5 no such workflow.`;
