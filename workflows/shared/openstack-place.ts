/** Helpers shared by the OpenStack workflows (sandbox-safe). */
import type { BackupSelector, OpenStackPlace } from './openstack-types';
import type { BlobStoreOptions } from './types';

/** Storage folder "host" of volume and image backups: `volume_<name>/<timestamp>`, `image_<name>/<timestamp>`. */
export const VOLUME_HOST = 'volume';
export const IMAGE_HOST = 'image';

/** Just the place (node, cloud, timeouts) of an input: what every OpenStack activity gets, nothing else. */
export function placeOf(input: OpenStackPlace): OpenStackPlace {
  return {
    node: input.node,
    ...(input.cloud !== undefined ? { cloud: input.cloud } : {}),
    ...(input.region !== undefined ? { region: input.region } : {}),
    ...(input.interface !== undefined ? { interface: input.interface } : {}),
    ...(input.timeouts !== undefined ? { timeouts: input.timeouts } : {}),
  };
}

/** Just the backup selector of a restore input. */
export function selectorOf(input: BackupSelector): BackupSelector {
  return {
    storage: input.storage,
    name: input.name,
    ...(input.timestamp !== undefined ? { timestamp: input.timestamp } : {}),
    ...(input.fromDate !== undefined ? { fromDate: input.fromDate } : {}),
    ...(input.encryption !== undefined ? { encryption: input.encryption } : {}),
    ...(input.bandwidthLimit !== undefined ? { bandwidthLimit: input.bandwidthLimit } : {}),
  };
}

/** The pipeline options of a backup input (and nothing else). */
export function blobOptions(input: BlobStoreOptions): BlobStoreOptions {
  return {
    compression: input.compression,
    segmentSize: input.segmentSize,
    ...(input.compressionLevel !== undefined ? { compressionLevel: input.compressionLevel } : {}),
    ...(input.encryption !== undefined ? { encryption: input.encryption } : {}),
    ...(input.bandwidthLimit !== undefined ? { bandwidthLimit: input.bandwidthLimit } : {}),
  };
}
export const SERVER_HOST = 'server';
