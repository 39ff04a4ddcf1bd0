/**
 * `npm run bench`: the filesystem backup benchmark. Not a timed test: it prints wall times, throughput, output sizes
 * and peak RSS of permafrost against baselines measured in the same run (tar|gzip, tar|zstd, freezer-agent), and the
 * ratios against the targets, as PASS/MISS. It exits non-zero only when something is broken (e.g. a permafrost restore
 * that is not byte-identical). Results also go to bench/results/<timestamp>.json.
 *
 *   npm run bench [-- --mib 450 --seed permafrost-bench --keep --no-freezer]
 *   env: PERMAFROST_BENCH_MIB, PERMAFROST_BENCH_SEED, PERMAFROST_BENCH_CACHE (data set cache folder)
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, hostname, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeFailure } from '../client';
import type { BackupFsRequest, RestoreFsRequest } from '../client';
import { ensureDataset } from './dataset';
import type { Dataset } from './dataset';
import { diffFingerprints, diskBytes, dropCaches, fingerprintTree, listFiles, load1, MiB, sh, table, timedRun, timedWith, verdict } from './measure';
import type { Check, RssPeaks } from './measure';
import { REPO, startPermafrost } from './temporal';

interface Row {
  tool: string;
  op: 'backup' | 'restore';
  seconds: number;
  /** Bytes of the data set (read by a backup, written by a restore). */
  bytes: number;
  /** Bytes in storage after a backup. */
  outputBytes?: number;
  /** Peak RSS as the targets define it: the worker process for permafrost, the whole process tree otherwise. */
  peakRss: number;
  rss: RssPeaks;
  load1: number;
  verified?: boolean;
}

const mb = (bytes: number): string => (bytes / MiB).toFixed(1);
const FREEZER_ENV = {
  OS_AUTH_URL: 'http://127.0.0.1:5000/v3',
  OS_USERNAME: 'bench',
  OS_PASSWORD: 'bench',
  OS_PROJECT_NAME: 'bench',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default',
  OS_REGION_NAME: 'RegionOne',
  OS_IDENTITY_API_VERSION: '3',
};

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** freezer-agent on PATH, installing python3-freezer when missing; returns why it is unavailable, or undefined. */
function ensureFreezer(): string | undefined {
  const has = (): boolean => sh('command -v freezer-agent').startsWith('/');
  if (has()) return undefined;
  say('freezer-agent missing: apt-get install python3-freezer ...');
  const install = 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-freezer';
  const out = sh(`${install} >/dev/null 2>&1 || { apt-get update -qq && ${install} >/dev/null; }`);
  return has() ? undefined : `python3-freezer could not be installed ${out || '(apt-get failed; not root?)'}`;
}

class Bench {
  readonly rows: Row[] = [];
  readonly problems: string[] = [];
  /** Broken, not merely slow: makes the exit status non-zero. */
  broken = false;
  cacheDropped = true;
  private expected?: Map<string, string>;

  constructor(
    readonly data: Dataset,
    readonly workDir: string
  ) {}

  /** Drops the page cache before each timed step, so every step reads cold. */
  async cold(): Promise<void> {
    if (!this.cacheDropped) return;
    const why = await dropCaches();
    if (why) {
      this.cacheDropped = false;
      this.problems.push(`page cache not dropped (${why}): reads may be served from memory`);
      say(`  ! could not drop the page cache (${why}); continuing with a warm cache`);
    }
  }

  add(row: Omit<Row, 'bytes'>): Row {
    const full = { ...row, bytes: this.data.bytes };
    this.rows.push(full);
    const out = row.outputBytes !== undefined ? `, ${mb(row.outputBytes)} MiB stored` : '';
    const idle = row.tool.startsWith('permafrost') ? ` (worker at ${mb(row.rss.startBytes)} MiB before the step)` : '';
    say(`  ${row.tool} ${row.op}: ${row.seconds.toFixed(1)} s${out}, peak RSS ${mb(row.peakRss)} MiB${idle}, load ${row.load1.toFixed(2)}`);
    return full;
  }

  /** Compares a restored tree with the source: contents, modes, symlinks. */
  async verify(row: Row, dir: string, mustMatch: boolean): Promise<void> {
    this.expected ??= await fingerprintTree(this.data.dir);
    const diffs = diffFingerprints(this.expected, await fingerprintTree(dir));
    row.verified = diffs.length === 0;
    if (row.verified) {
      say(`    restore verified: ${this.expected.size} entries identical (sha256, mode)`);
      return;
    }
    say(`\n  !!!!! ${row.tool} RESTORE IS NOT IDENTICAL TO THE SOURCE (${dir}) !!!!!`);
    for (const d of diffs) say(`    ${d}`);
    this.problems.push(`${row.tool} restore differs from the source: ${diffs[0]}`);
    if (mustMatch) this.broken = true;
  }

  /** (a) The pipeline limits: plain tar into gzip -6 and into zstd -3 with every core. */
  async pipelines(): Promise<void> {
    const n = availableParallelism();
    for (const [tool, compressor, ext] of [
      ['tar | gzip -6', 'gzip -6', 'gz'],
      [`tar | zstd -3 -T${n}`, `zstd -3 -T${n} -q`, 'zst'],
    ] as const) {
      const out = join(this.workDir, `pipeline.tar.${ext}`);
      await this.cold();
      const load = load1();
      const r = await timedRun('bash', ['-o', 'pipefail', '-c', `tar -cf - -C "$1" . | ${compressor} > "$2"`, 'bench', this.data.dir, out], {
        logFile: join(this.workDir, 'pipelines.log'),
      });
      this.add({ tool, op: 'backup', seconds: r.seconds, outputBytes: await diskBytes(out), peakRss: r.rss.treeBytes, rss: r.rss, load1: load });
      await rm(out);
    }
  }

  /** (b) freezer-agent from python3-freezer, local storage, its defaults. Returns its storage layout. */
  async freezer(): Promise<string[]> {
    const unavailable = ensureFreezer();
    if (unavailable) {
      this.problems.push(`freezer-agent skipped: ${unavailable}`);
      say(`  ! freezer-agent skipped: ${unavailable}`);
      return [];
    }
    const container = join(this.workDir, 'freezer');
    const target = join(this.workDir, 'freezer-restore');
    const logFile = join(this.workDir, 'freezer.log');
    const env = { ...process.env, ...FREEZER_ENV };
    const common = ['--container', container, '--backup-name', 'bench', '--storage', 'local', '--log-file', logFile];
    try {
      await this.cold();
      let load = load1();
      const b = await timedRun('freezer-agent', ['--action', 'backup', '--mode', 'fs', '--path-to-backup', this.data.dir, ...common], { env, logFile });
      this.add({ tool: 'freezer-agent', op: 'backup', seconds: b.seconds, outputBytes: await diskBytes(container), peakRss: b.rss.treeBytes, rss: b.rss, load1: load });
      const layout = (await listFiles(container)).map((f) => `${f.path}  (${f.size} B)`);
      await this.cold();
      load = load1();
      const r = await timedRun('freezer-agent', ['--action', 'restore', '--restore-abs-path', target, ...common], { env, logFile });
      const row = this.add({ tool: 'freezer-agent', op: 'restore', seconds: r.seconds, peakRss: r.rss.treeBytes, rss: r.rss, load1: load });
      await this.verify(row, target, false);
      return layout;
    } catch (err) {
      const why = `${(err as Error).message} (${sh(`tail -n 3 '${logFile}' | tr '\\n' ' '`)})`;
      this.problems.push(`freezer-agent failed: ${why}`);
      say(`  ! freezer-agent failed: ${why}`);
      return [];
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  }

  /** (c) permafrost through a real dev server and a separate worker process: zstd (default) and gzip -6. */
  async permafrost(): Promise<void> {
    const defaultStorage = join(this.workDir, 'permafrost-default');
    const pf = await startPermafrost({ workDir: this.workDir, storage: `local:${defaultStorage}`, logFile: join(this.workDir, 'worker.log') });
    const stopOnSignal = (): void => void pf.stop().finally(() => process.exit(130));
    process.once('SIGINT', stopOnSignal);
    try {
      const variants: { tool: string; storageDir: string; request: Partial<BackupFsRequest> }[] = [
        { tool: 'permafrost (zstd default)', storageDir: defaultStorage, request: {} },
        { tool: 'permafrost gzip -6', storageDir: join(this.workDir, 'permafrost-gzip6'), request: { compression: 'gzip', compressionLevel: 6 } },
      ];
      for (const v of variants) {
        const name = v.request.compression === 'gzip' ? 'bench-gzip6' : 'bench-default';
        const storage = v.storageDir === defaultStorage ? undefined : `local:${v.storageDir}`;
        await this.cold();
        let load = load1();
        const b = await timedWith(pf.workerPid, () => pf.client.backupFs({ ...v.request, paths: [this.data.dir], name, storage }));
        if (b.result.warnings.length > 0) this.problems.push(`${v.tool} backup warnings: ${b.result.warnings.slice(0, 3).join('; ')}`);
        this.add({ tool: v.tool, op: 'backup', seconds: b.seconds, outputBytes: await diskBytes(v.storageDir), peakRss: b.rss.processBytes, rss: b.rss, load1: load });

        const target = join(this.workDir, `${name}-restore`);
        const restore: RestoreFsRequest = { name, storage, target };
        await this.cold();
        load = load1();
        const r = await timedWith(pf.workerPid, () => pf.client.restoreFs(restore));
        const row = this.add({ tool: v.tool, op: 'restore', seconds: r.seconds, peakRss: r.rss.processBytes, rss: r.rss, load1: load });
        await this.verify(row, target, true);
        await rm(target, { recursive: true, force: true });
      }
    } finally {
      process.removeListener('SIGINT', stopOnSignal);
      await pf.stop();
    }
  }

  find(tool: string, op: Row['op']): Row | undefined {
    return this.rows.find((r) => r.tool === tool && r.op === op);
  }

  checks(): Check[] {
    const pf = this.find('permafrost (zstd default)', 'backup');
    const pfRestore = this.find('permafrost (zstd default)', 'restore');
    const pfGzip = this.find('permafrost gzip -6', 'backup');
    const fz = this.find('freezer-agent', 'backup');
    const fzRestore = this.find('freezer-agent', 'restore');
    const tarGzip = this.find('tar | gzip -6', 'backup');
    const tarZstd = this.rows.find((r) => r.tool.startsWith('tar | zstd'));
    const ratio = (a?: number, b?: number): number | undefined => (a !== undefined && b ? a / b : undefined);
    const workerPeaks = this.rows.filter((r) => r.tool.startsWith('permafrost')).map((r) => r.peakRss);
    return [
      { name: 'permafrost backup speed vs freezer-agent', value: ratio(fz?.seconds, pf?.seconds), unit: 'x', target: { op: '>=', limit: 10 } },
      { name: 'permafrost output size vs freezer-agent', value: ratio(pf?.outputBytes, fz?.outputBytes), unit: 'x', target: { op: '<=', limit: 1 } },
      { name: 'permafrost gzip-6 speed vs tar | gzip -6', value: ratio(tarGzip?.seconds, pfGzip?.seconds), unit: 'x', target: { op: '>=', limit: 0.9 } },
      { name: 'node worker peak RSS', value: workerPeaks.length ? Math.max(...workerPeaks) / MiB : undefined, unit: ' MiB', target: { op: '<=', limit: 256 } },
      { name: 'permafrost restore speed vs freezer-agent', value: ratio(fzRestore?.seconds, pfRestore?.seconds), unit: 'x' },
      { name: 'permafrost zstd speed vs tar | zstd', value: ratio(tarZstd?.seconds, pf?.seconds), unit: 'x' },
      { name: 'permafrost zstd size vs tar | zstd', value: ratio(pf?.outputBytes, tarZstd?.outputBytes), unit: 'x' },
    ];
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { mib: { type: 'string' }, seed: { type: 'string' }, keep: { type: 'boolean' }, 'no-freezer': { type: 'boolean' } },
  });
  const mib = Number(values.mib ?? process.env.PERMAFROST_BENCH_MIB ?? 450);
  const seed = values.seed ?? process.env.PERMAFROST_BENCH_SEED ?? 'permafrost-bench';
  if (!Number.isInteger(mib) || mib < 8) throw new Error(`the data set size must be a whole number of MiB, at least 8 (got ${mib})`);
  if (!existsSync(join(REPO, 'dist/workflow-bundle.js'))) say('note: no prebuilt workflow bundle (run `npm run build`); the worker bundles at start');

  const started = new Date();
  const loadStart = sh('cut -d" " -f1-3 /proc/loadavg');
  say(`permafrost fs backup benchmark, ${started.toISOString()}`);
  say(`machine: ${hostname()}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${mb(totalmem())} MiB RAM, Linux ${release()}`);
  say(`load average at start: ${loadStart} (shared machine: other processes compete for the CPUs)`);
  const versions: Record<string, string> = {
    node: process.version,
    tar: sh('tar --version | head -1'),
    gzip: sh('gzip --version | head -1'),
    zstd: sh('zstd --version'),
  };
  say(`tools: node ${versions.node}; ${versions.tar}; ${versions.gzip}; ${versions.zstd}`);

  const t0 = performance.now();
  const cacheRoot = process.env.PERMAFROST_BENCH_CACHE || undefined;
  const data = await ensureDataset(seed, mib, cacheRoot);
  const how = data.generated ? `generated in ${((performance.now() - t0) / 1000).toFixed(1)} s` : 'cached';
  say(`data set: ${data.dir} (${how}; seed ${JSON.stringify(seed)}), ${data.files} files, ${mb(data.bytes)} MiB`);

  const workDir = await mkdtemp(join(tmpdir(), 'permafrost-bench-run-'));
  const bench = new Bench(data, workDir);
  let freezerLayout: string[] = [];
  try {
    say('\n(a) pipeline limits');
    await bench.pipelines();
    say('\n(b) freezer-agent (python3-freezer), local storage, defaults');
    if (values['no-freezer']) bench.problems.push('freezer-agent skipped (--no-freezer)');
    else freezerLayout = await bench.freezer();
    versions.freezer = sh("dpkg-query -W -f='python3-freezer ${Version}' python3-freezer");
    say('\n(c) permafrost via Temporal (dev server + worker process)');
    await bench.permafrost().catch((err: unknown) => {
      bench.broken = true;
      bench.problems.push(`permafrost failed: ${describeFailure(err)}`);
      say(`  !!!!! permafrost failed: ${describeFailure(err)} (logs in ${workDir})`);
    });
  } finally {
    if (!values.keep && !bench.broken) await rm(workDir, { recursive: true, force: true });
  }

  const loadEnd = sh('cut -d" " -f1-3 /proc/loadavg');
  say(`\n=== results: ${mb(data.bytes)} MiB, ${data.files} files; MiB/s = data set bytes / wall time ===`);
  say(
    table(
      ['tool', 'op', 'wall s', 'MiB/s', 'output MiB', 'peak RSS MiB', 'tree RSS MiB', 'load1', 'identical'],
      bench.rows.map((r) => [
        r.tool,
        r.op,
        r.seconds.toFixed(2),
        (r.bytes / MiB / r.seconds).toFixed(1),
        r.outputBytes !== undefined ? mb(r.outputBytes) : '-',
        mb(r.peakRss),
        mb(r.rss.treeBytes),
        r.load1.toFixed(2),
        r.verified === undefined ? '-' : r.verified ? 'yes' : 'NO',
      ])
    )
  );
  say('peak RSS: permafrost = the worker process (VmHWM, reset before each step); others = their whole process tree.');
  say('tree RSS: the process and its children (permafrost: incl. the zstd it spawns), sampled every 100 ms.');
  const checks = bench.checks();
  say('\n=== ratios and targets ===');
  say(
    table(
      ['', 'value', 'target', 'result'],
      checks.map((c) => [
        c.name,
        c.value === undefined ? 'n/a' : `${c.value.toFixed(2)}${c.unit}`,
        c.target ? `${c.target.op} ${c.target.limit}${c.unit}` : '',
        verdict(c),
      ])
    )
  );
  say(`\nload average (1/5/15 min): ${loadStart} at start, ${loadEnd} at end; page cache ${bench.cacheDropped ? 'dropped before every step' : 'NOT dropped'}`);
  if (freezerLayout.length > 0) {
    say('freezer-agent storage layout (--container):');
    for (const f of freezerLayout) say(`  ${f}`);
  }
  for (const p of bench.problems) say(`problem: ${p}`);

  const resultsDir = join(REPO, 'bench/results');
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const json = {
    started: started.toISOString(),
    machine: { hostname: hostname(), cpus: availableParallelism(), model: cpus()[0]?.model, memBytes: totalmem(), kernel: release() },
    load: { start: loadStart, end: loadEnd },
    versions,
    dataset: { seed, mib, files: data.files, bytes: data.bytes, dir: data.dir },
    pageCacheDropped: bench.cacheDropped,
    rows: bench.rows,
    checks: checks.map((c) => ({ ...c, result: verdict(c) })),
    freezerLayout,
    problems: bench.problems,
    broken: bench.broken,
  };
  await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
  say(`results: ${file}`);
  if (bench.broken) say(`BROKEN: see the problems above; work files kept in ${workDir}`);
  return bench.broken ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  }
);
