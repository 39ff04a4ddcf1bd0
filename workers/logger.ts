/** pino JSON logs; the Temporal runtime's logger forwards into it, so activity and workflow logs carry their context. */
import pino from 'pino';
import type { LogLevel as TemporalLogLevel, LogMetadata, Logger } from '@temporalio/common';
import type { LogLevel } from '../client/config';

/** Fields that may hold secrets; pino replaces their values. */
const SECRET_FIELDS = ['password', 'passphrase', 'token', 'secret', 'apiKey', 'privateKey', 'encryptionKey', 'authorization'];
export const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): pino.Logger {
  return pino({ level, base: { service: 'permafrost' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}

/** Adapts pino to the SDK's Logger; the activity type becomes `step`. */
export class PinoTemporalLogger implements Logger {
  constructor(private readonly pinoLogger: pino.Logger) {}

  log(level: TemporalLogLevel, message: string, meta: LogMetadata = {}): void {
    const { activityType, workflowRunId, ...rest } = meta as Record<string, unknown>;
    const fields: Record<string, unknown> = { ...rest };
    if (activityType !== undefined) fields.step = activityType;
    if (workflowRunId !== undefined) fields.runId = workflowRunId;
    const method = level === 'TRACE' ? 'trace' : level === 'DEBUG' ? 'debug' : level === 'INFO' ? 'info' : level === 'WARN' ? 'warn' : 'error';
    this.pinoLogger[method](fields, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
