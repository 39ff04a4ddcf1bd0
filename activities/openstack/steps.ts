/** What every OpenStack activity shares: the clients of its cloud reference, and waits with its timeout and heartbeats. */
import { cancellationSignal, heartbeat } from '@temporalio/activity';
import type { CloudRef, OpenStackPlace, OpenStackTimeouts } from '../../workflows/shared/openstack-types';
import { connectCloud, withCloud } from './clients';
import type { ConnectCloud, OpenStackClients } from './clients';
import type { WaitOptions } from './wait';

export const DEFAULT_TIMEOUTS: Required<OpenStackTimeouts> = {
  snapshot: 10 * 60_000,
  volume: 30 * 60_000,
  image: 60 * 60_000,
  delete: 10 * 60_000,
  backup: 6 * 60 * 60_000,
  server: 30 * 60_000,
};

/** Wait options of an activity: its timeout, its cancellation, and a heartbeat on every poll. */
export function waiting(place: OpenStackPlace, which: keyof OpenStackTimeouts): WaitOptions {
  return {
    timeoutMs: place.timeouts?.[which] ?? DEFAULT_TIMEOUTS[which],
    signal: cancellationSignal(),
    onPoll: (status) => heartbeat({ phase: 'waiting', status: status ?? 'gone', files: 0, bytes: 0, segment: 0, storedBytes: 0 }),
  };
}

/** Just the cloud reference of a place. */
export function cloudOf(place: CloudRef): CloudRef {
  return {
    ...(place.cloud !== undefined ? { cloud: place.cloud } : {}),
    ...(place.region !== undefined ? { region: place.region } : {}),
    ...(place.interface !== undefined ? { interface: place.interface } : {}),
  };
}

/** `cloud(place, fn)`: runs `fn` with the clients of the place's cloud, closed afterwards. */
export function cloudRunner(connect: ConnectCloud | undefined): <T>(place: CloudRef, fn: (c: OpenStackClients) => Promise<T>) => Promise<T> {
  return (place, fn) => withCloud(connect ?? connectCloud, cloudOf(place), fn);
}
