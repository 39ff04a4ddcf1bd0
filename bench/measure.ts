/**
 * Measuring tools: page cache dropping, peak RSS of a process (tree), timed child processes, timed phases, tree
 * comparison, and the printing shared by the benchmarks (tables, target checks).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const MiB = 1024 * 1024;

export function load1(): number {
  return loadavg()[0]!;
}

/** A shell command's trimmed output, or `(<error>)` (for version strings and log tails in reports). */
export function sh(cmd: string): string {
  try {
    return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    return `(${(err as Error).message.split('\n')[0]})`;
  }
}

/** A plain-text table: the first column left-aligned, the others right-aligned. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A measured value and, when it has one, its target. */
export interface Check {
  name: string;
  value?: number;
  unit: string;
  target?: { op: '>=' | '<='; limit: number };
}

/** PASS / MISS against the target; `info` without one, `n/a` when it was not measured. */
export function verdict(c: Check): string {
  if (!c.target) return 'info';
  if (c.value === undefined) return 'n/a';
  const ok = c.target.op === '>=' ? c.value >= c.target.limit : c.value <= c.target.limit;
  return ok ? 'PASS' : 'MISS';
}

/** `sync; echo 3 > /proc/sys/vm/drop_caches`; returns why it failed, or undefined. */
export async function dropCaches(): Promise<string | undefined> {
  await new Promise<void>((resolve) => spawn('sync', { stdio: 'ignore' }).once('close', () => resolve()).once('error', () => resolve()));
  try {
    await writeFile('/proc/sys/vm/drop_caches', '3');
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

async function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // exited
  }
}

/** pid and all its descendants, from /proc/<pid>/task/<tid>/children. */
async function processTree(pid: number): Promise<number[]> {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    const tasks = await readdir(`/proc/${p}/task`).catch(() => [] as string[]);
    for (const t of tasks) {
      const kids = await readFile(`/proc/${p}/task/${t}/children`, 'utf8').catch(() => '');
      for (const k of kids.split(' ')) if (k.trim()) out.push(Number(k));
    }
  }
  return out;
}

export interface RssPeaks {
  /** Peak RSS of the process itself: its VmHWM (reset at start when the kernel allows), else the sampled maximum. */
  processBytes: number;
  /** Sampled maximum of the summed RSS of the process and its descendants (every 100 ms, so approximate). */
  treeBytes: number;
  /** RSS of the process when sampling started (for a long-lived worker: its idle size). */
  startBytes: number;
}

/** CPU time a long-lived process used during a step (user + system, all threads; from /proc/<pid>/stat). */
export interface CpuSeconds {
  process: number;
  /** Of its children that ended and were waited for during the step (e.g. a `zstd` per stream). */
  children: number;
}

const CLOCK_TICKS = Number(sh('getconf CLK_TCK')) || 100;

/** utime+stime and cutime+cstime of `pid`, in seconds; undefined once it is gone. */
async function cpuOf(pid: number): Promise<CpuSeconds | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number); // f[0] is field 3 (state)
    return { process: (f[11]! + f[12]!) / CLOCK_TICKS, children: (f[13]! + f[14]!) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** Samples a process (tree) every 100 ms until stop(). */
export class RssSampler {
  private processKiB = 0;
  private treeKiB = 0;
  private startKiB?: number;
  private readonly timer: NodeJS.Timeout;
  private sampling: Promise<void> = Promise.resolve();

  private constructor(private readonly pid: number) {
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample());
    }, 100);
  }

  /** Starts sampling `pid`; first resets its VmHWM (`echo 5 > clear_refs`) so a long-lived process's old peak does not count. */
  static async start(pid: number): Promise<RssSampler> {
    await writeFile(`/proc/${pid}/clear_refs`, '5').catch(() => undefined);
    const s = new RssSampler(pid);
    await s.sample();
    return s;
  }

  private async sample(): Promise<void> {
    const pids = await processTree(this.pid);
    const rss = await Promise.all(pids.map((p) => statusKiB(p, 'VmRSS')));
    this.startKiB ??= rss[0] ?? 0;
    this.treeKiB = Math.max(this.treeKiB, rss.reduce((a, b) => a + b, 0));
    this.processKiB = Math.max(this.processKiB, rss[0] ?? 0, await statusKiB(this.pid, 'VmHWM'));
  }

  async stop(): Promise<RssPeaks> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sample(); // a last look, while a long-lived process is still there
    return { processBytes: this.processKiB * 1024, treeBytes: this.treeKiB * 1024, startBytes: (this.startKiB ?? 0) * 1024 };
  }
}

export interface TimedRun {
  seconds: number;
  rss: RssPeaks;
  /** timedWith: the CPU time of the sampled process during the operation. */
  cpu?: CpuSeconds;
}

/** Runs a command to completion, timing it and sampling its process tree's RSS; output goes to `logFile`. */
export async function timedRun(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; logFile: string }): Promise<TimedRun> {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  await new Promise((resolve) => log.once('open', resolve));
  const start = performance.now();
  const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ['ignore', log, log] });
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const sampler = child.pid !== undefined ? await RssSampler.start(child.pid) : undefined;
  const status = await exited;
  const seconds = (performance.now() - start) / 1000;
  const rss = (await sampler?.stop()) ?? { processBytes: 0, treeBytes: 0, startBytes: 0 };
  log.end();
  if (status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${status}); log: ${opts.logFile}`);
  return { seconds, rss };
}

/** Times an in-process async operation while sampling another process (e.g. the worker it drives). */
export async function timedWith<T>(pid: number, fn: () => Promise<T>): Promise<TimedRun & { result: T }> {
  const sampler = await RssSampler.start(pid);
  const cpuBefore = await cpuOf(pid);
  const start = performance.now();
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await sampler.stop();
    throw err;
  }
  const seconds = (performance.now() - start) / 1000;
  const cpuAfter = await cpuOf(pid);
  const cpu = cpuBefore && cpuAfter ? { process: cpuAfter.process - cpuBefore.process, children: cpuAfter.children - cpuBefore.children } : undefined;
  return { result, seconds, rss: await sampler.stop(), ...(cpu ? { cpu } : {}) };
}

/** One timed step of a benchmark step (a floor API call and its wait, or an activity from a workflow's history). */
export interface Phase {
  name: string;
  /** Seconds from the start of the step. */
  at: number;
  seconds: number;
  /** Permafrost: time the activity task waited for the worker (scheduled -> started). */
  queued?: number;
  attempt?: number;
}

/** Times the phases of one step run in-process (the OpenStack floors). */
export class Phases {
  readonly list: Phase[] = [];
  private readonly t0 = performance.now();

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    const result = await fn();
    this.list.push({ name, at: (start - this.t0) / 1000, seconds: (performance.now() - start) / 1000 });
    return result;
  }

  get seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }
}

/** Reads a stream to /dev/null; returns the bytes read. */
export async function toDevNull(body: NodeJS.ReadableStream): Promise<number> {
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(body, count, createWriteStream('/dev/null'));
  return bytes;
}

/** Total size of the regular files below `path` (or of the file itself). */
export async function diskBytes(path: string): Promise<number> {
  const st = await lstat(path);
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let total = 0;
  for (const name of await readdir(path)) total += await diskBytes(join(path, name));
  return total;
}

/** Every regular file below `root`, relative path and size, sorted. */
export async function listFiles(root: string, rel = ''): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const name of (await readdir(join(root, rel))).sort()) {
    const childRel = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, childRel));
    if (st.isDirectory()) out.push(...(await listFiles(root, childRel)));
    else out.push({ path: childRel, size: st.size });
  }
  return out;
}

/** path -> "type mode sha256|link" for everything below `root` (contents and permissions, not times or owners). */
export async function fingerprintTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      const p = join(root, childRel);
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.set(childRel, `dir ${mode}`);
        await walk(childRel);
      } else if (st.isSymbolicLink()) out.set(childRel, `symlink ${await readlink(p)}`);
      else if (st.isFile()) {
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(p, { highWaterMark: MiB })) hash.update(chunk as Buffer);
        out.set(childRel, `file ${mode} ${st.size} ${hash.digest('hex')}`);
      } else out.set(childRel, `other ${mode}`);
    }
  };
  await walk('');
  return out;
}

/** The first differences between two fingerprints (empty when identical). */
export function diffFingerprints(expected: Map<string, string>, actual: Map<string, string>, max = 10): string[] {
  const diffs: string[] = [];
  for (const [path, fp] of expected) {
    const got = actual.get(path);
    if (got === undefined) diffs.push(`missing: ${path}`);
    else if (got !== fp) diffs.push(`differs: ${path} (${fp} vs ${got})`);
  }
  for (const path of actual.keys()) if (!expected.has(path)) diffs.push(`extra: ${path}`);
  return diffs.slice(0, max);
}
