/**
 * The one configuration module (CLI, client library and workers): environment, then flags, validated by zod.
 * Secrets are never values here, only references: the API key comes from TEMPORAL_API_KEY at connect time,
 * TLS material from files.
 */
import { hostname, homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { invalidNodeName } from '../workflows/shared/naming';
import { nodeTaskQueue } from '../workflows/shared/queues';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const configSchema = z.object({
  temporal: z.object({
    address: z.string().min(1),
    namespace: z.string().min(1),
    tls: z
      .object({
        serverName: z.string().optional(),
        serverRootCaPath: z.string().optional(),
        clientCertPath: z.string().optional(),
        clientKeyPath: z.string().optional(),
      })
      .optional(),
  }),
  node: z.string().refine((n) => invalidNodeName(n) === undefined, { message: 'invalid node name (letters, digits, . and -)' }),
  nodeTaskQueue: z.string().min(1),
  dataDir: z.string().min(1),
  storage: z.string().min(1),
  logLevel: z.enum(LOG_LEVELS),
});

export type PermafrostConfig = z.infer<typeof configSchema>;

export interface ConfigFlags {
  address?: string;
  namespace?: string;
  node?: string;
  taskQueue?: string;
  dataDir?: string;
  storage?: string;
  logLevel?: string;
}

/** Thrown for configuration that cannot work; the message names the setting. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function defaultNode(): string {
  return hostname().split('.')[0]!.toLowerCase().replace(/_/g, '-');
}

export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): PermafrostConfig {
  const dataDir = flags.dataDir ?? env.PERMAFROST_DATA_DIR ?? join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'permafrost');
  const node = flags.node ?? env.PERMAFROST_NODE ?? defaultNode();
  const tlsOn = env.TEMPORAL_TLS === 'true' || env.TEMPORAL_TLS === '1' || Boolean(env.TEMPORAL_TLS_CLIENT_CERT_PATH);
  const raw = {
    temporal: {
      address: flags.address ?? env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
      namespace: flags.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default',
      tls: tlsOn
        ? {
            serverName: env.TEMPORAL_TLS_SERVER_NAME,
            serverRootCaPath: env.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
            clientCertPath: env.TEMPORAL_TLS_CLIENT_CERT_PATH,
            clientKeyPath: env.TEMPORAL_TLS_CLIENT_KEY_PATH,
          }
        : undefined,
    },
    node,
    nodeTaskQueue: flags.taskQueue ?? env.PERMAFROST_NODE_TASK_QUEUE ?? nodeTaskQueue(node),
    dataDir,
    storage: flags.storage ?? env.PERMAFROST_STORAGE ?? `local:${join(dataDir, 'storage')}`,
    logLevel: (flags.logLevel ?? env.PERMAFROST_LOG_LEVEL ?? 'info').toLowerCase(),
  };
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${z.prettifyError(parsed.error)}`);
  return Object.freeze(parsed.data);
}
