/** Connection options for the Temporal client and the workers' native connection, from the config. */
import { readFileSync } from 'node:fs';
import type { PermafrostConfig } from './config';

export interface TemporalConnectOptions {
  address: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
  apiKey?: string;
}

export function connectOptions(config: PermafrostConfig, env: NodeJS.ProcessEnv = process.env): TemporalConnectOptions {
  const tls = config.temporal.tls;
  const options: TemporalConnectOptions = { address: config.temporal.address };
  if (tls) {
    options.tls = {
      serverNameOverride: tls.serverName,
      serverRootCACertificate: tls.serverRootCaPath ? readFileSync(tls.serverRootCaPath) : undefined,
      clientCertPair:
        tls.clientCertPath && tls.clientKeyPath
          ? { crt: readFileSync(tls.clientCertPath), key: readFileSync(tls.clientKeyPath) }
          : undefined,
    };
  }
  if (env.TEMPORAL_API_KEY) options.apiKey = env.TEMPORAL_API_KEY;
  return options;
}
