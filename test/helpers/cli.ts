/** The permafrost CLI run as the operator would, against a test environment's server, node and storage. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestEnv } from './temporal';

const CLI = join(__dirname, '..', '..', '..', 'dist', 'client', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Asynchronous, because the calling process also runs the workers the CLI talks to. */
export async function runCli(env: TestEnv, ...args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.config.temporal.address, PERMAFROST_NODE: env.node, PERMAFROST_STORAGE: env.storage },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}
