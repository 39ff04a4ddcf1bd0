/** Compression stages. zstd runs as the Debian `zstd` binary (multi-threaded, outside the worker's event loop). */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { Duplex, PassThrough } from 'node:stream';
import { constants, createGunzip, createGzip } from 'node:zlib';
import { DEFAULT_LEVELS } from '../../workflows/shared/compression';
import type { Compression } from '../../workflows/shared/types';

/** A Duplex over a child process's stdin/stdout; a non-zero exit fails the stream, destroying it kills the child. */
export function spawnTransform(command: string, args: string[]): Duplex {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  let exitError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      exitError = new Error(`cannot run ${command}: ${err.message}`);
      resolve();
    });
    child.once('close', (code, signal) => {
      if (code !== 0) exitError ??= new Error(`${command} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`);
      resolve();
    });
  });
  const duplex = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      if (child.stdin.write(chunk)) cb();
      else child.stdin.once('drain', () => cb());
    },
    final(cb) {
      child.stdin.end();
      cb();
    },
    read() {
      child.stdout.resume();
    },
    destroy(err, cb) {
      if (child.exitCode === null) child.kill('SIGKILL');
      cb(err);
    },
  });
  child.stdin.on('error', () => {
    /* EPIPE when the child died: its exit status carries the real error */
  });
  child.stdout.on('data', (d: Buffer) => {
    if (!duplex.push(d)) child.stdout.pause();
  });
  child.stdout.once('end', () => {
    void exited.then(() => (exitError ? duplex.destroy(exitError) : duplex.push(null)));
  });
  void exited.then(() => {
    if (exitError && !duplex.destroyed) duplex.destroy(exitError);
  });
  return duplex;
}

function threads(): number {
  // `-T0` means physical cores, which is 1 on a 2-vCPU machine: pass the count explicitly.
  return Math.max(1, availableParallelism());
}

export function createCompressor(algorithm: Compression, level?: number): Duplex {
  const lvl = level ?? DEFAULT_LEVELS[algorithm];
  switch (algorithm) {
    case 'zstd':
      return spawnTransform('zstd', [`-${lvl}`, `-T${threads()}`, '-q', '-c', '-']);
    case 'gzip':
      return createGzip({ level: lvl, chunkSize: 256 * 1024, memLevel: 9, strategy: constants.Z_DEFAULT_STRATEGY });
    case 'none':
      return new PassThrough();
  }
}

export function createDecompressor(algorithm: Compression): Duplex {
  switch (algorithm) {
    case 'zstd':
      return spawnTransform('zstd', ['-d', '-q', '-c', '-']);
    case 'gzip':
      return createGunzip({ chunkSize: 256 * 1024 });
    case 'none':
      return new PassThrough();
  }
}
