/**
 * The real Temporal path for the benchmark: a dedicated dev server (free port, in memory, headless, as scripts/test.sh
 * starts it), a central worker process (workflows) and the node worker as its own process
 * (`node dist/workers/main.js --role node`), as in production, so the node worker's RSS is measured on its own;
 * and the phases of a finished run, read from its history.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultPayloadConverter } from '@temporalio/common';
import { PermafrostClient } from '../client';
import { loadConfig } from '../client/config';
import type { Phase } from './measure';

/** The repository root (this file runs from dist/bench/). */
export const REPO = join(__dirname, '..', '..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface PermafrostEnv {
  client: PermafrostClient;
  node: string;
  /** The worker process, to sample. */
  workerPid: number;
  stop(): Promise<void>;
}

async function devServer(action: 'start' | 'stop', port: number, dataDir: string): Promise<void> {
  await promisify(execFile)('bash', [join(REPO, 'scripts/temporal-dev.sh'), action], {
    env: { ...process.env, PERMAFROST_DATA_DIR: dataDir, TEMPORAL_PORT: String(port), TEMPORAL_DB: 'memory', TEMPORAL_HEADLESS: '1' },
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Starts the dev server and a worker for a fresh node whose default storage is `storage`; waits until it polls. */
export async function startPermafrost(opts: { workDir: string; storage: string; logFile: string }): Promise<PermafrostEnv> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const node = `bench-${process.pid}`;
  await devServer('start', port, opts.workDir);
  let worker: ChildProcess | undefined;
  let central: ChildProcess | undefined;
  let client: PermafrostClient | undefined;
  const stop = async (): Promise<void> => {
    await client?.close().catch(() => undefined);
    if (worker) await stopProcess(worker);
    if (central) await stopProcess(central);
    await devServer('stop', port, opts.workDir).catch(() => undefined);
  };
  try {
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    await new Promise((resolve) => log.once('open', resolve));
    const env = { ...process.env, TEMPORAL_ADDRESS: address, PERMAFROST_NODE: node, PERMAFROST_STORAGE: opts.storage, PERMAFROST_DATA_DIR: opts.workDir, PERMAFROST_LOG_LEVEL: 'warn' };
    central = spawn(process.execPath, [join(REPO, 'dist/workers/main.js'), '--role', 'central'], { env, stdio: ['ignore', log, log] });
    // As deployed (Dockerfile, scripts/embedded.sh): a small young generation keeps the streaming worker's RSS low.
    worker = spawn(process.execPath, ['--max-semi-space-size=4', join(REPO, 'dist/workers/main.js'), '--role', 'node'], { env, stdio: ['ignore', log, log] });
    const config = loadConfig({ address, node, storage: opts.storage, dataDir: opts.workDir, logLevel: 'warn' }, {});
    client = await PermafrostClient.connect(config);
    for (let i = 0; ; i++) {
      if (worker.exitCode !== null || central.exitCode !== null) throw new Error(`a worker exited; log: ${opts.logFile}`);
      try {
        await client.assertWorkers(node);
        break;
      } catch (err) {
        if (i >= 120) throw err;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    if (worker.pid === undefined) throw new Error('the worker did not start');
    return { client, node, workerPid: worker.pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Decodes an event's user-metadata summary (the `summary` the workflow gave the activity). */
function summaryOf(payload: Parameters<typeof defaultPayloadConverter.fromPayload>[0] | null | undefined): string | undefined {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload<string>(payload);
  } catch {
    return undefined;
  }
}

/** A history number: a Long (protobufjs int64) or a plain number. */
function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof (v as { toNumber?: unknown }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return NaN;
}

/**
 * The activities of a run from its history: when each was scheduled (from the run's start), how long its task waited
 * for the worker and how long it ran (last attempt).
 */
export async function historyPhases(client: PermafrostClient, workflowId: string): Promise<Phase[]> {
  const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number => (t ? num(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6 : NaN);
  const t0 = ms(events[0]?.eventTime);
  const scheduled = new Map<number, { name: string; at: number; started?: number; attempt?: number; ended?: number }>();
  for (const e of events) {
    const id = num(e.eventId);
    const at = ms(e.eventTime);
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched) {
      const type = sched.activityType?.name ?? '?';
      const summary = summaryOf(e.userMetadata?.summary);
      scheduled.set(id, { name: summary ? `${type}: ${summary}` : type, at });
      continue;
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const s = scheduled.get(num(started.scheduledEventId));
      if (s) {
        s.started = at;
        s.attempt = started.attempt ?? 1;
      }
      continue;
    }
    const end =
      e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskCanceledEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (end) {
      const s = scheduled.get(num(end.scheduledEventId));
      if (s) s.ended = at;
    }
  }
  return [...scheduled.values()].map((s) => ({
    name: s.name,
    at: (s.at - t0) / 1000,
    seconds: ((s.ended ?? NaN) - (s.started ?? s.at)) / 1000,
    ...(s.started !== undefined ? { queued: (s.started - s.at) / 1000 } : {}),
    ...(s.attempt !== undefined ? { attempt: s.attempt } : {}),
  }));
}

/** Seconds a run spent deleting its temporaries (its undo steps: deleteTemporaries, deleteServerSnapshot). */
export function undoSeconds(phases: Phase[]): number {
  return phases.filter((p) => /^(deleteTemporaries|deleteServerSnapshot)\b/.test(p.name)).reduce((a, p) => a + p.seconds, 0);
}
