/**
 * `npm run bench:server`: the Nova server benchmark on the OpenStack lab. Not a timed test: it measures, in one run,
 * what OpenStack itself needs to back up an image-booted server with a 256 MiB disk (the "floor": createImage until
 * the image is active, 0.2 s polls, then a plain GET of the image data to /dev/null) and what the backupServer and
 * restoreServer workflows need (a real dev server, a separate node worker process, local storage, zstd, 8 MiB
 * segments), and prints the ratios against the targets as PASS/MISS (MISSED is spelled out at the end). Freezer's
 * numbers on the same lab come from shared/reference/freezer-measured.md. The lab's fake Nova driver copies the boot
 * image into the server's disk file and uploads that file on createImage, so the restored server's disk file is
 * compared byte for byte with the source's. It exits non-zero only when something is broken (a step fails, the
 * restored disk differs, a run leaves resources behind). Results also go to bench/results/server-<timestamp>.json.
 * Everything it creates in the lab (servers, images) is deleted at the end, also after a failure.
 *
 *   npm run bench:server [-- --keep]      (--keep: keep the work directory with the logs and the backup)
 */
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, hostname, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { OpenStackClients } from '../activities/openstack/clients';
import { deleteAndWait, kindOps } from '../activities/openstack/resources';
import type { ResourceKind } from '../activities/openstack/resources';
import { waitForStatus } from '../activities/openstack/wait';
import type { WaitOptions } from '../activities/openstack/wait';
import { describeFailure } from '../client';
import type { BackupServerInput, BackupServerResult, RestoreServerInput, RestoreServerResult } from '../workflows/shared/openstack-types';
import { CENTRAL_TASK_QUEUE } from '../workflows/shared/queues';
import { fileSha256, inventory, labCloud, openLab, serverDiskPath } from '../test/helpers/lab';
import { diskBytes, load1, MiB, Phases, sh, table, timedWith, toDevNull, verdict } from './measure';
import type { Check } from './measure';
import { mb, OpenStackBench, ratio, s2, say, sayMachine } from './openstack-bench';
import type { BenchRow } from './openstack-bench';
import { historyPhases, REPO, startPermafrost, undoSeconds } from './temporal';
import type { PermafrostEnv } from './temporal';

/** Freezer 13.0.0 (patched to run) on the same lab, Nova, 256 MiB image (128 MiB random + zeros), local storage: reference, not re-measured. */
const FREEZER = {
  backupSeconds: 20,
  restoreSeconds: 16.6,
  backupStoredBytes: 256 * MiB,
  backupRssBytes: 273 * MiB,
  restoreRssBytes: 233 * MiB,
  source: 'shared/reference/freezer-measured.md (Nova, local storage; its restore does not wait for ACTIVE)',
};
const RANDOM_BYTES = 128 * MiB;
const DISK_BYTES = 256 * MiB;
/** Stored bytes: the random half once (zstd cannot shrink it), the zeros not at all; 5 % for framing and records. */
const TARGETS = { backupRatio: 1.5, rssMiB: 256, storedOfRandom: 1.05 };
/** The floor polls every 0.2 s, as the reference measured it. */
const FLOOR_POLL: WaitOptions = { timeoutMs: 600_000, pollMs: 200, maxPollMs: 200 };
const LAB_WAIT: WaitOptions = { timeoutMs: 300_000 };

type WorkflowOf<I, R> = (input: I) => Promise<R>;

type Row = BenchRow;

/** 128 MiB of random bytes then 128 MiB of zeros, in 8 MiB chunks; `hash` sees every byte. */
function diskData(hash: ReturnType<typeof createHash>): Readable {
  const chunk = 8 * MiB;
  const zeros = Buffer.alloc(chunk);
  return Readable.from(
    (function* () {
      for (let off = 0; off < DISK_BYTES; off += chunk) {
        const buf = off < RANDOM_BYTES ? randomBytes(chunk) : zeros;
        hash.update(buf);
        yield buf;
      }
    })()
  );
}

class ServerBench extends OpenStackBench {
  constructor(
    c: OpenStackClients,
    readonly source: { serverId: string; diskSha256: string },
    /** In the name of everything this run makes: workflow ids (so their temporaries), the source, the floor's image. */
    readonly mark: string
  ) {
    super(c, { verifies: 'disk', phasesInline: false, leftoversBreak: true });
  }

  /** Until the source server has no task (a snapshot's upload finishing), so no step starts behind the previous one. */
  async idle(): Promise<void> {
    const id = this.source.serverId;
    await waitForStatus(
      `server ${id} without a task`,
      async () => {
        const s = await this.c.nova.getServer(id);
        return { status: s['OS-EXT-STS:task_state'] ? `busy:${s['OS-EXT-STS:task_state']}` : s.status };
      },
      ['ACTIVE'],
      LAB_WAIT
    );
  }

  /** createImage -> image active (0.2 s polls) -> GET the image data to /dev/null; then delete the image (not timed). */
  async floorBackup(): Promise<void> {
    const c = this.c;
    const name = `pf-${this.mark}-floor-image`;
    await this.idle();
    await this.cold();
    const load = load1();
    const phases = new Phases();
    let imageId: string | undefined;
    let seconds: number;
    let cleanupSeconds = 0;
    try {
      imageId = await phases.run('createImage -> image active', async () => {
        const { imageId: id } = await c.nova.createImage(this.source.serverId, name, {});
        imageId = id;
        await waitForStatus(`image ${id}`, () => c.glance.find(id), ['active'], FLOOR_POLL);
        return id;
      });
      const id = imageId;
      const bytes = await phases.run('GET image data -> /dev/null', async () => toDevNull((await c.glance.download(id)).body));
      seconds = phases.seconds;
      if (bytes !== DISK_BYTES) throw new Error(`the floor's image GET returned ${bytes} bytes, not ${DISK_BYTES}`);
    } finally {
      const id = imageId;
      if (id) {
        const start = performance.now();
        await deleteAndWait(kindOps(c, 'image'), 'image', id, FLOOR_POLL).catch((err: unknown) => this.problems.push(`could not delete floor image ${id}: ${String(err)}`));
        cleanupSeconds = (performance.now() - start) / 1000;
      }
    }
    this.add({ tool: 'OpenStack floor', op: 'backup', seconds, phases: phases.list, load1: load, cleanupSeconds });
  }

  /** backupServer through the dev server and the separate node worker process; returns the backup's name. */
  async permafrostBackup(pf: PermafrostEnv, storageDir: string): Promise<string> {
    const workflowId = `${this.mark}-backup`;
    const input: BackupServerInput = {
      node: pf.node,
      ...labCloud(),
      serverId: this.source.serverId,
      name: this.mark,
      storage: { driver: 'local', path: storageDir },
      compression: 'zstd',
      segmentSize: 8 * MiB,
    };
    await this.idle();
    await this.cold();
    const load = load1();
    const b = await timedWith(pf.workerPid, () =>
      pf.client.temporal.workflow.execute<WorkflowOf<BackupServerInput, BackupServerResult>>('backupServer', { taskQueue: CENTRAL_TASK_QUEUE, workflowId, args: [input] })
    );
    const phases = await historyPhases(pf.client, workflowId);
    this.add({
      tool: 'permafrost',
      op: 'backup',
      seconds: b.seconds,
      phases,
      rss: b.rss,
      ...(b.cpu ? { cpu: b.cpu } : {}),
      storedBytes: await diskBytes(storageDir),
      load1: load,
      workflowId,
      cleanupSeconds: undoSeconds(phases),
    });
    const st = b.result.stats;
    say(`    (stats: ${st.bytes} bytes read, ${st.storedBytes} stored in ${st.segments} segments; disks ${b.result.server.disks.map((d) => d.role).join(', ')})`);
    if (st.bytes !== DISK_BYTES) this.problems.push(`permafrost backup read ${st.bytes} bytes, not ${DISK_BYTES}`);
    await this.leftovers(workflowId);
    return input.name!;
  }

  /** restoreServer of that backup (it waits for ACTIVE); checks the server and its disk bytes, then deletes it (not timed). */
  async permafrostRestore(pf: PermafrostEnv, storageDir: string, name: string): Promise<void> {
    const workflowId = `${this.mark}-restore`;
    const input: RestoreServerInput = { node: pf.node, ...labCloud(), storage: { driver: 'local', path: storageDir }, name };
    await this.cold();
    const load = load1();
    let restoredId: string | undefined;
    try {
      const r = await timedWith(pf.workerPid, () =>
        pf.client.temporal.workflow.execute<WorkflowOf<RestoreServerInput, RestoreServerResult>>('restoreServer', { taskQueue: CENTRAL_TASK_QUEUE, workflowId, args: [input] })
      );
      restoredId = r.result.serverId;
      const phases = await historyPhases(pf.client, workflowId);
      const row: Row = { tool: 'permafrost', op: 'restore', seconds: r.seconds, phases, rss: r.rss, ...(r.cpu ? { cpu: r.cpu } : {}), load1: load, workflowId, cleanupSeconds: undoSeconds(phases) };
      const server = await this.c.nova.getServer(restoredId);
      if (server.status !== 'ACTIVE') {
        this.broken = true;
        this.problems.push(`restored server ${restoredId} (${server.name}) is ${server.status}, not ACTIVE`);
      }
      const got = await fileSha256(serverDiskPath(restoredId));
      row.verified = got === this.source.diskSha256;
      if (!row.verified) {
        this.broken = true;
        this.problems.push(`restored server ${restoredId}: disk sha256 ${got}, the source's ${this.source.diskSha256}`);
      }
      this.add(row);
      say(`    (restored server ${restoredId} "${r.result.serverName}": ${server.status}, disk sha256 ${got.slice(0, 16)}...)`);
      await this.leftovers(workflowId, restoredId);
    } finally {
      const id = restoredId;
      if (id) await deleteAndWait(kindOps(this.c, 'server'), 'server', id, LAB_WAIT).catch((err: unknown) => this.problems.push(`could not delete restored server ${id}: ${String(err)}`));
    }
  }

  checks(): Check[] {
    const pfB = this.find('permafrost', 'backup');
    const pfR = this.find('permafrost', 'restore');
    const flB = this.find('OpenStack floor', 'backup');
    const peaks = [pfB, pfR].flatMap((r) => (r?.rss ? [r.rss.processBytes] : []));
    // The part of the backup the floor also times: up to the end of the stream, without the commit and the undo.
    const stream = pfB?.phases.find((p) => p.name.startsWith('streamImageToStorage'));
    const untilStreamed = stream ? stream.at + (stream.queued ?? 0) + stream.seconds : undefined;
    return [
      { name: 'backup: permafrost / OpenStack floor', value: ratio(pfB?.seconds, flB?.seconds), unit: 'x', target: { op: '<=', limit: TARGETS.backupRatio } },
      { name: 'node worker peak RSS', value: peaks.length ? Math.max(...peaks) / MiB : undefined, unit: ' MiB', target: { op: '<=', limit: TARGETS.rssMiB } },
      { name: `stored bytes / ${mb(RANDOM_BYTES)} MiB random (zeros not raw)`, value: ratio(pfB?.storedBytes, RANDOM_BYTES), unit: 'x', target: { op: '<=', limit: TARGETS.storedOfRandom } },
      { name: `stored bytes / ${mb(DISK_BYTES)} MiB raw disk`, value: ratio(pfB?.storedBytes, DISK_BYTES), unit: 'x' },
      { name: 'backup until streamed (no commit, undo) / floor', value: ratio(untilStreamed, flB?.seconds), unit: 'x' },
      { name: 'restore wall time (until ACTIVE)', value: pfR?.seconds, unit: ' s' },
      { name: `Freezer backup ${FREEZER.backupSeconds} s / permafrost`, value: ratio(FREEZER.backupSeconds, pfB?.seconds), unit: 'x faster' },
      { name: `Freezer restore ${FREEZER.restoreSeconds} s / permafrost`, value: ratio(FREEZER.restoreSeconds, pfR?.seconds), unit: 'x faster' },
      { name: 'Freezer stored bytes / permafrost', value: ratio(FREEZER.backupStoredBytes, pfB?.storedBytes), unit: 'x' },
    ];
  }
}

/** Deletes every server, then every image, whose name holds `mark` (this run's), until gone; returns what it deleted. */
async function sweep(c: OpenStackClients, mark: string, problems: string[]): Promise<string[]> {
  const mine = (await inventory(c)).filter((r) => r.name.includes(mark));
  const deleted: string[] = [];
  for (const kind of ['server', 'image'] as ResourceKind[]) {
    for (const r of mine.filter((x) => x.kind === kind)) {
      await deleteAndWait(kindOps(c, kind), kind, r.id, LAB_WAIT).then(
        () => deleted.push(`${kind} ${r.name}`),
        (err: unknown) => problems.push(`could not delete ${kind} ${r.id} (${r.name}): ${String(err)}`)
      );
    }
  }
  for (const r of mine.filter((x) => x.kind !== 'server' && x.kind !== 'image')) problems.push(`left in the lab: ${r.kind} ${r.id} (${r.name})`);
  return deleted;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { keep: { type: 'boolean' } } });
  const started = new Date();
  const tag = started.toISOString().replace(/\D/g, '').slice(2, 14);
  const mark = `bench-server-${tag}`; // in the name of everything this run makes (workflow temporaries included)
  const loadStart = sh('cut -d" " -f1-3 /proc/loadavg');
  say(`permafrost Nova server benchmark, ${started.toISOString()}`);
  sayMachine(loadStart);

  const cloud = labCloud(); // also points the workers started below at the lab's clouds.yaml
  const c = await openLab();
  const workDir = await mkdtemp(join(tmpdir(), 'permafrost-bench-server-'));
  let bench: ServerBench | undefined;
  let pf: PermafrostEnv | undefined;
  const setup: { imageSeconds?: number; serverSeconds?: number } = {};
  const problems: string[] = [];
  let broken = false;
  const stopOnSignal = (): void =>
    void (pf?.stop() ?? Promise.resolve())
      .then(() => sweep(c, mark, []))
      .finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  try {
    const flavor = (await c.nova.listFlavors()).find((f) => f.name === 'lab.tiny');
    if (!flavor) throw new Error('the lab has no flavor lab.tiny');
    let t0 = performance.now();
    const hash = createHash('sha256');
    const image = await c.glance.create({ name: `pf-${mark}-src-image`, disk_format: 'raw', container_format: 'bare' });
    await c.glance.upload(image.id, diskData(hash));
    await waitForStatus(`image ${image.id}`, () => c.glance.find(image.id), ['active'], LAB_WAIT);
    const dataSha256 = hash.digest('hex');
    setup.imageSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const { id: serverId } = await c.nova.createServer({ name: `pf-${mark}-src`, imageRef: image.id, flavorRef: flavor.id, networks: 'none' });
    await waitForStatus(`server ${serverId}`, () => c.nova.findServer(serverId), ['ACTIVE'], LAB_WAIT);
    setup.serverSeconds = (performance.now() - t0) / 1000;
    const diskSha256 = await fileSha256(serverDiskPath(serverId));
    const diskSize = (await stat(serverDiskPath(serverId))).size;
    if (diskSha256 !== dataSha256 || diskSize !== DISK_BYTES) throw new Error(`the source server's disk file (${diskSize} bytes) does not hold the image's bytes`);
    say(`source: image ${image.id} (256 MiB raw: 128 MiB random + 128 MiB zeros, uploaded in ${s2(setup.imageSeconds)} s);`);
    say(`        server ${serverId} (lab.tiny, no network, cloud ${cloud.cloud}) ACTIVE in ${s2(setup.serverSeconds)} s; its disk file = the image's bytes`);
    bench = new ServerBench(c, { serverId, diskSha256 }, mark);
    const b = bench;
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        b.broken = true;
        b.problems.push(`${what} failed: ${describeFailure(err)}`);
        say(`  !!!!! ${what} failed: ${describeFailure(err)} (logs in ${workDir})`);
      }
    };
    say('floor: Nova createImage -> image active (0.2 s polls) -> GET of the image data to /dev/null (the image deleted after, not timed)');
    say('permafrost: backupServer / restoreServer workflows (dev server + node worker process, local storage, zstd, 8 MiB segments)');
    const storageDir = join(workDir, 'storage');
    pf = await startPermafrost({ workDir, storage: `local:${storageDir}`, logFile: join(workDir, 'worker.log') });
    const env = pf;
    say('\n(a) backup');
    await step('floor backup', () => b.floorBackup());
    let name: string | undefined;
    await step('permafrost backup', async () => {
      name = await b.permafrostBackup(env, storageDir);
    });
    say('\n(b) restore');
    const backupName = name;
    if (backupName) await step('permafrost restore', () => b.permafrostRestore(env, storageDir, backupName));
  } catch (err) {
    broken = true;
    problems.push(`setup failed: ${describeFailure(err)}`);
    say(`  !!!!! setup failed: ${describeFailure(err)} (logs in ${workDir})`);
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    await pf?.stop();
    const deleted = await sweep(c, mark, problems).catch((err: unknown) => {
      problems.push(`could not list the lab to clean up: ${String(err)}`);
      return [] as string[];
    });
    say(`\ncleanup: deleted ${deleted.length ? deleted.join(', ') : 'nothing'}`);
    const left = (await inventory(c).catch(() => [])).filter((r) => r.name.includes(mark));
    if (left.length > 0) problems.push(`STILL in the lab after the cleanup: ${left.map((r) => `${r.kind} ${r.id} (${r.name})`).join(', ')}`);
    await c.close();
  }
  if (bench) {
    problems.unshift(...bench.problems);
    broken ||= bench.broken;
  }
  if (!values.keep && !broken) await rm(workDir, { recursive: true, force: true });

  const loadEnd = sh('cut -d" " -f1-3 /proc/loadavg');
  const rows = bench?.rows ?? [];
  say(`\n=== results: image-booted server, 256 MiB raw disk (128 MiB random + 128 MiB zeros); MiB/s = 256 MiB / wall time ===`);
  say(
    table(
      ['tool', 'op', 'wall s', 'MiB/s', 'stored MiB', 'worker RSS MiB', 'tree RSS MiB', 'worker CPU s', 'zstd CPU s', 'load1', 'identical'],
      rows.map((r) => [
        r.tool,
        r.op,
        s2(r.seconds),
        (DISK_BYTES / MiB / r.seconds).toFixed(1),
        r.storedBytes !== undefined ? mb(r.storedBytes) : '-',
        r.rss ? mb(r.rss.processBytes) : '-',
        r.rss ? mb(r.rss.treeBytes) : '-',
        r.cpu ? s2(r.cpu.process) : '-',
        r.cpu ? s2(r.cpu.children) : '-',
        r.load1.toFixed(2),
        r.verified === undefined ? '-' : r.verified ? 'yes' : 'NO',
      ])
    )
  );
  say(
    `Freezer 13.0.0 (patched) on this lab, from ${FREEZER.source}: backup ${FREEZER.backupSeconds} s (256 MiB stored raw, ${mb(FREEZER.backupRssBytes)} MiB RSS), ` +
      `restore ${FREEZER.restoreSeconds} s (${mb(FREEZER.restoreRssBytes)} MiB RSS).`
  );
  for (const r of rows) {
    say(`\n--- phases: ${r.tool} ${r.op}${r.workflowId ? ` (workflow ${r.workflowId}; from its history)` : ''} ---`);
    say(
      table(
        ['step', 'at s', 'queued s', 'took s'],
        r.phases.map((p) => [p.name.length > 100 ? `${p.name.slice(0, 97)}...` : p.name, s2(p.at), p.queued !== undefined ? s2(p.queued) : '-', s2(p.seconds)])
      )
    );
    if (r.workflowId) {
      const inActivities = r.phases.reduce((a, p) => a + (Number.isFinite(p.seconds) ? p.seconds : 0), 0);
      const queued = r.phases.reduce((a, p) => a + (p.queued ?? 0), 0);
      say(
        `wall ${s2(r.seconds)} s = ${s2(inActivities)} s in activities + ${s2(r.seconds - inActivities)} s between them ` +
          `(of which ${s2(queued)} s activity tasks waiting for the worker; the rest workflow tasks and the client); undo ${s2(r.cleanupSeconds ?? 0)} s`
      );
    } else if (r.cleanupSeconds !== undefined) say(`deleting the floor's image afterwards took ${s2(r.cleanupSeconds)} s (not counted)`);
  }

  const checks = bench?.checks() ?? [];
  say('\n=== ratios and targets ===');
  say(
    table(
      ['', 'value', 'target', 'result'],
      checks.map((ch) => [ch.name, ch.value === undefined ? 'n/a' : `${ch.value.toFixed(2)}${ch.unit}`, ch.target ? `${ch.target.op} ${ch.target.limit}${ch.unit}` : '', verdict(ch)])
    )
  );
  const missed = checks.filter((ch) => verdict(ch) === 'MISS' || verdict(ch) === 'n/a');
  say(`\nload average (1/5/15 min): ${loadStart} at start, ${loadEnd} at end; page cache ${bench?.cacheDropped !== false ? 'dropped before every step' : 'NOT dropped'}`);
  const maxLoad = Math.max(0, ...rows.map((r) => r.load1));
  const overloaded = maxLoad > 2 * availableParallelism();
  if (overloaded) {
    say(`WARNING: load average up to ${maxLoad.toFixed(1)} on ${availableParallelism()} CPUs: OpenStack (nova, glance) and permafrost compete with other work;`);
    say('         the ratios are noisy and the Freezer comparison (measured on an idle machine) does not hold. Re-run on a quiet machine.');
  }
  for (const p of problems) say(`problem: ${p}`);
  if (missed.length > 0) say(`\n*** MISSED: ${missed.map((ch) => `${ch.name} = ${ch.value === undefined ? 'n/a' : ch.value.toFixed(2) + ch.unit} (target ${ch.target!.op} ${ch.target!.limit}${ch.unit})`).join('; ')} ***`);
  else if (checks.length > 0) say('\nall targets met');

  const resultsDir = join(REPO, 'bench/results');
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `server-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const json = {
    started: started.toISOString(),
    machine: { hostname: hostname(), cpus: availableParallelism(), model: cpus()[0]?.model, memBytes: totalmem(), kernel: release() },
    load: { start: loadStart, end: loadEnd },
    versions: { node: process.version, zstd: sh('zstd --version') },
    source: { cloud: cloud.cloud, flavor: 'lab.tiny', diskBytes: DISK_BYTES, randomBytes: RANDOM_BYTES, ...setup },
    pageCacheDropped: bench?.cacheDropped ?? false,
    overloaded,
    rows,
    freezer: FREEZER,
    checks: checks.map((ch) => ({ ...ch, result: verdict(ch) })),
    missed: missed.map((ch) => ch.name),
    problems,
    broken,
  };
  await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
  say(`results: ${file}`);
  if (broken) say(`BROKEN: see the problems above; work files kept in ${workDir}`);
  return broken ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  }
);
