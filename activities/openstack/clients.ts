/** Opens the OpenStack clients of one cloud reference on this node (credentials resolved here, tokens shared per process). */
import type { CloudRef } from '../../workflows/shared/openstack-types';
import { CinderClient } from './cinder';
import { GlanceClient } from './glance';
import { NovaClient } from './nova';
import { loadCloudConfig, OpenStackSession, processTokenCache } from './session';

export interface OpenStackClients {
  session: OpenStackSession;
  glance: GlanceClient;
  cinder: CinderClient;
  nova: NovaClient;
  close(): Promise<void>;
}

export type ConnectCloud = (ref: CloudRef) => Promise<OpenStackClients>;

/** The production connector: clouds.yaml cloud `ref.cloud`, else the worker's OS_* environment. */
export const connectCloud: ConnectCloud = async (ref) => {
  const config = await loadCloudConfig({
    ...(ref.cloud !== undefined ? { cloud: ref.cloud } : {}),
    ...(ref.region !== undefined ? { region: ref.region } : {}),
    ...(ref.interface !== undefined ? { interface: ref.interface } : {}),
  });
  const session = await OpenStackSession.create(config, { tokenCache: processTokenCache });
  return { session, glance: new GlanceClient(session), cinder: new CinderClient(session), nova: new NovaClient(session), close: () => session.close() };
};

/** Runs `fn` with the clients of `ref` and always closes them. */
export async function withCloud<T>(connect: ConnectCloud, ref: CloudRef, fn: (c: OpenStackClients) => Promise<T>): Promise<T> {
  const clients = await connect(ref);
  try {
    return await fn(clients);
  } finally {
    await clients.close();
  }
}
