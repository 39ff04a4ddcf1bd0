/**
 * What the OpenStack benchmarks (bench/volume.ts, bench/server.ts) share: a row per timed step, the page-cache
 * drop before each, the leftover check after a permafrost run, and the printing.
 */
import { availableParallelism, cpus, hostname, release, totalmem } from 'node:os';
import type { OpenStackClients } from '../activities/openstack/clients';
import { leftoversOf } from '../test/helpers/lab';
import { dropCaches, MiB } from './measure';
import type { CpuSeconds, Phase, RssPeaks } from './measure';

export interface BenchRow {
  tool: 'OpenStack floor' | 'permafrost';
  op: 'backup' | 'restore';
  seconds: number;
  phases: Phase[];
  /** Permafrost: the node worker (VmHWM, reset before the step) and its process tree (sampled). */
  rss?: RssPeaks;
  /** Permafrost: CPU time of the node worker during the step, and of its children (zstd) that ended in it. */
  cpu?: CpuSeconds;
  storedBytes?: number;
  verified?: boolean;
  load1: number;
  workflowId?: string;
  /** Deleting the temporaries: timed apart for the floor (not in `seconds`); inside the workflow for permafrost. */
  cleanupSeconds?: number;
}

export const mb = (bytes: number): string => (bytes / MiB).toFixed(1);
export const s2 = (n: number): string => n.toFixed(2);
export const ratio = (a?: number, b?: number): number | undefined => (a !== undefined && b ? a / b : undefined);

export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** The machine and its load, first lines of every benchmark's output. */
export function sayMachine(loadStart: string): void {
  say(`machine: ${hostname()}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${mb(totalmem())} MiB RAM, Linux ${release()}`);
  say(`load average at start: ${loadStart} (shared machine: other processes compete for the CPUs)`);
}

export interface BenchOptions {
  /** What `verified` compares: `bytes` (a volume file) or `disk` (a server's disk file). */
  verifies: 'bytes' | 'disk';
  /** Print each row's phases under it. */
  phasesInline: boolean;
  /** Leftovers of a permafrost run make the whole run broken (not only a reported problem). */
  leftoversBreak: boolean;
}

export class OpenStackBench {
  readonly rows: BenchRow[] = [];
  readonly problems: string[] = [];
  broken = false;
  cacheDropped = true;

  constructor(
    readonly c: OpenStackClients,
    private readonly opts: BenchOptions
  ) {}

  /** Drops the page cache before each timed step, so every step reads cold (floor and permafrost alike). */
  async cold(): Promise<void> {
    if (!this.cacheDropped) return;
    const why = await dropCaches();
    if (why) {
      this.cacheDropped = false;
      this.problems.push(`page cache not dropped (${why}): reads may be served from memory`);
    }
  }

  add(row: BenchRow): BenchRow {
    this.rows.push(row);
    const parts = [`${s2(row.seconds)} s`];
    if (row.storedBytes !== undefined) parts.push(`${mb(row.storedBytes)} MiB stored`);
    if (row.rss) parts.push(`worker peak RSS ${mb(row.rss.processBytes)} MiB (tree ${mb(row.rss.treeBytes)}, ${mb(row.rss.startBytes)} before)`);
    if (row.cpu) parts.push(`worker CPU ${s2(row.cpu.process)} s + children (zstd) ${s2(row.cpu.children)} s`);
    if (row.verified !== undefined) parts.push(row.verified ? `${this.opts.verifies} identical` : `${this.opts.verifies.toUpperCase()} DIFFER${this.opts.verifies === 'disk' ? 'S' : ''}`);
    if (row.cleanupSeconds !== undefined && row.tool === 'OpenStack floor') parts.push(`cleanup ${s2(row.cleanupSeconds)} s (not counted)`);
    say(`  ${row.tool} ${row.op}: ${parts.join(', ')}, load ${row.load1.toFixed(2)}`);
    if (this.opts.phasesInline) for (const p of row.phases) say(`    ${p.name}: ${s2(p.seconds)} s`);
    return row;
  }

  find(tool: BenchRow['tool'], op: BenchRow['op']): BenchRow | undefined {
    return this.rows.find((r) => r.tool === tool && r.op === op);
  }

  /** Anything a permafrost run left in the project (but `keep`, its result). */
  async leftovers(workflowId: string, keep?: string): Promise<void> {
    const left = (await leftoversOf(this.c, workflowId)).filter((x) => x.id !== keep);
    if (left.length === 0) return;
    if (this.opts.leftoversBreak) this.broken = true;
    this.problems.push(`${workflowId} left ${left.map((x) => `${x.kind} ${x.id}${this.opts.leftoversBreak ? ` ${x.name}` : ''} (${x.status})`).join(', ')}`);
  }
}
