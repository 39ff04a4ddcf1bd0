/**
 * `npm run bench:volume`: the Cinder volume benchmark on the OpenStack lab. Not a timed test: it measures, in one run,
 * what OpenStack itself needs to back up and restore a 1 GiB volume (the "floor": the same API steps permafrost uses,
 * driven directly with the project's clients and 0.2 s polling, nothing stored) and what the backupVolume and
 * restoreVolume workflows need (a real dev server, a separate node worker process, local storage, zstd, 8 MiB
 * segments), and prints the ratios against the targets as PASS/MISS (MISSED is spelled out at the end). Freezer's
 * numbers on the same lab come from shared/reference/freezer-measured.md. It exits non-zero only when something is
 * broken (a step fails, or a restored volume differs from the source). Results also go to
 * bench/results/volume-<timestamp>.json. The lab must be up (`bash lab/lab.sh status`).
 *
 *   npm run bench:volume [-- --data-mib 256 --keep]
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, hostname, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { OpenStackClients } from '../activities/openstack/clients';
import { deleteAndWait, kindOps } from '../activities/openstack/resources';
import type { ResourceKind } from '../activities/openstack/resources';
import { waitForStatus } from '../activities/openstack/wait';
import type { WaitOptions } from '../activities/openstack/wait';
import { describeFailure } from '../client';
import type { BackupVolumeInput, BackupVolumeResult, RestoreVolumeInput, RestoreVolumeResult } from '../workflows/shared/openstack-types';
import { CENTRAL_TASK_QUEUE } from '../workflows/shared/queues';
import { createVolumeWithData, deleteVolume, fileSha256, labCloud, nfsVolumePath, openLab } from '../test/helpers/lab';
import { diskBytes, load1, MiB, Phases, sh, table, timedWith, toDevNull, verdict } from './measure';
import type { Check } from './measure';
import { mb, OpenStackBench, ratio, s2, say, sayMachine } from './openstack-bench';
import type { BenchRow } from './openstack-bench';
import { historyPhases, REPO, startPermafrost, undoSeconds } from './temporal';
import type { PermafrostEnv } from './temporal';

/** Freezer 13.0.0 (patched to run) on the same lab, 1 GiB volume with 256 MiB of random data: reference, not re-measured. */
const FREEZER = { backupSeconds: 83, restoreSeconds: 35.6, backupStoredBytes: 1024 * MiB, backupRssBytes: 210 * MiB, source: 'shared/reference/freezer-measured.md (Cinder, local storage)' };
const TARGETS = { backupRatio: 1.2, restoreRatio: 1.2, rssMiB: 256 };
/** The floor polls every 0.2 s, as the reference measured it. */
const FLOOR_POLL: WaitOptions = { timeoutMs: 600_000, pollMs: 200, maxPollMs: 200 };

type WorkflowOf<I, R> = (input: I) => Promise<R>;

type Row = BenchRow;

/** Deletes what a floor step made, in dependency order (image, volumes, snapshot), each until gone; returns the seconds it took. */
async function removeAll(c: OpenStackClients, made: { kind: ResourceKind; id: string }[], problems: string[]): Promise<number> {
  const start = performance.now();
  const order: ResourceKind[] = ['image', 'volume', 'snapshot'];
  for (const kind of order) {
    for (const r of made.filter((m) => m.kind === kind)) {
      await deleteAndWait(kindOps(c, kind), kind, r.id, FLOOR_POLL).catch((err: unknown) => problems.push(`could not delete floor ${kind} ${r.id}: ${String(err)}`));
    }
  }
  return (performance.now() - start) / 1000;
}

class VolumeBench extends OpenStackBench {
  constructor(
    c: OpenStackClients,
    readonly source: { id: string; sha256: string; sizeGiB: number; dataBytes: number },
    readonly workDir: string,
    readonly tag: string
  ) {
    super(c, { verifies: 'bytes', phasesInline: true, leftoversBreak: false });
  }

  /** Compares a restored volume's file with the source's hash. */
  async verify(row: Row, volumeId: string): Promise<void> {
    const got = await fileSha256(nfsVolumePath(volumeId));
    row.verified = got === this.source.sha256;
    if (!row.verified) {
      this.broken = true;
      this.problems.push(`${row.tool} restore: volume ${volumeId} has sha256 ${got}, the source ${this.source.sha256}`);
    }
  }

  /** snapshot -> volume from snapshot -> upload-to-image -> GET the image to /dev/null; then delete all (not timed). */
  async floorBackup(): Promise<void> {
    const c = this.c;
    const made: { kind: ResourceKind; id: string }[] = [];
    const name = (what: string): string => `pf-bench-floor-${this.tag}-${what}`;
    await this.cold();
    const load = load1();
    const phases = new Phases();
    let seconds: number;
    let cleanupSeconds: number;
    try {
      const snapshotId = await phases.run('snapshot -> available', async () => {
        const s = await c.cinder.createSnapshot({ volume_id: this.source.id, name: name('snapshot') });
        made.push({ kind: 'snapshot', id: s.id });
        await waitForStatus(`snapshot ${s.id}`, () => c.cinder.findSnapshot(s.id), ['available'], FLOOR_POLL);
        return s.id;
      });
      const volumeId = await phases.run('volume from snapshot -> available', async () => {
        const v = await c.cinder.createVolume({ name: name('volume'), size: this.source.sizeGiB, snapshot_id: snapshotId });
        made.push({ kind: 'volume', id: v.id });
        await waitForStatus(`volume ${v.id}`, () => c.cinder.findVolume(v.id), ['available'], FLOOR_POLL);
        return v.id;
      });
      const imageId = await phases.run('upload-to-image -> image active', async () => {
        const { imageId: id } = await c.cinder.uploadToImage(volumeId, { imageName: name('image'), force: true });
        made.push({ kind: 'image', id });
        await waitForStatus(`image ${id}`, () => c.glance.find(id), ['active'], FLOOR_POLL);
        return id;
      });
      const bytes = await phases.run('GET image data -> /dev/null', async () => toDevNull((await c.glance.download(imageId)).body));
      seconds = phases.seconds;
      if (bytes !== this.source.sizeGiB * 1024 * MiB) throw new Error(`the floor's image GET returned ${bytes} bytes`);
    } finally {
      cleanupSeconds = await removeAll(c, made, this.problems);
    }
    this.add({ tool: 'OpenStack floor', op: 'backup', seconds, phases: phases.list, load1: load, cleanupSeconds });
  }

  /** PUT the volume's bytes as a new raw image -> volume from the image -> available; then delete both (not timed). */
  async floorRestore(): Promise<void> {
    const c = this.c;
    const made: { kind: ResourceKind; id: string }[] = [];
    const name = (what: string): string => `pf-bench-floor-${this.tag}-restore-${what}`;
    await this.cold();
    const load = load1();
    const phases = new Phases();
    let seconds: number;
    let volumeId: string;
    let cleanupSeconds: number;
    const row: Row = { tool: 'OpenStack floor', op: 'restore', seconds: 0, phases: phases.list, load1: load };
    try {
      const imageId = await phases.run('create image + PUT data -> active', async () => {
        const image = await c.glance.create({ name: name('image'), disk_format: 'raw', container_format: 'bare' });
        made.push({ kind: 'image', id: image.id });
        await c.glance.upload(image.id, createReadStream(nfsVolumePath(this.source.id), { highWaterMark: MiB }));
        await waitForStatus(`image ${image.id}`, () => c.glance.find(image.id), ['active'], FLOOR_POLL);
        return image.id;
      });
      volumeId = await phases.run('volume from image -> available', async () => {
        const v = await c.cinder.createVolume({ name: name('volume'), size: this.source.sizeGiB, imageRef: imageId });
        made.push({ kind: 'volume', id: v.id });
        await waitForStatus(`volume ${v.id}`, () => c.cinder.findVolume(v.id), ['available'], FLOOR_POLL);
        return v.id;
      });
      seconds = phases.seconds;
      await this.verify(row, volumeId);
    } finally {
      cleanupSeconds = await removeAll(c, made, this.problems);
    }
    this.add(Object.assign(row, { seconds, cleanupSeconds }));
  }

  /** backupVolume through the dev server and the separate node worker process; returns the backup's name. */
  async permafrostBackup(pf: PermafrostEnv, storageDir: string): Promise<string> {
    const workflowId = `bench-backup-volume-${this.tag}`;
    const input: BackupVolumeInput = {
      node: pf.node,
      ...labCloud(),
      volumeId: this.source.id,
      name: `bench-${this.tag}`,
      storage: { driver: 'local', path: storageDir },
      compression: 'zstd',
      segmentSize: 8 * MiB,
    };
    await this.cold();
    const load = load1();
    const b = await timedWith(pf.workerPid, () =>
      pf.client.temporal.workflow.execute<WorkflowOf<BackupVolumeInput, BackupVolumeResult>>('backupVolume', { taskQueue: CENTRAL_TASK_QUEUE, workflowId, args: [input] })
    );
    const phases = await historyPhases(pf.client, workflowId);
    this.add({
      tool: 'permafrost',
      op: 'backup',
      seconds: b.seconds,
      phases,
      rss: b.rss,
      storedBytes: await diskBytes(storageDir),
      load1: load,
      workflowId,
      cleanupSeconds: undoSeconds(phases),
    });
    const format = b.result.volume.dataFormat ?? 'raw';
    say(`    (stats: ${b.result.stats.bytes} bytes of ${format} image read, ${b.result.stats.storedBytes} stored in ${b.result.stats.segments} segments)`);
    // A raw image is the whole device; a qcow2 one holds at least the data written.
    const expected = format === 'raw' ? b.result.stats.bytes === this.source.sizeGiB * 1024 * MiB : b.result.stats.bytes >= this.source.dataBytes;
    if (!expected) this.problems.push(`permafrost backup read ${b.result.stats.bytes} bytes of a ${format} image`);
    await this.leftovers(workflowId);
    return input.name!;
  }

  /** restoreVolume of that backup as a new volume; checks its bytes, then deletes it (not timed). */
  async permafrostRestore(pf: PermafrostEnv, storageDir: string, name: string): Promise<void> {
    const workflowId = `bench-restore-volume-${this.tag}`;
    const input: RestoreVolumeInput = { node: pf.node, ...labCloud(), storage: { driver: 'local', path: storageDir }, name };
    await this.cold();
    const load = load1();
    let restoredId: string | undefined;
    try {
      const r = await timedWith(pf.workerPid, () =>
        pf.client.temporal.workflow.execute<WorkflowOf<RestoreVolumeInput, RestoreVolumeResult>>('restoreVolume', { taskQueue: CENTRAL_TASK_QUEUE, workflowId, args: [input] })
      );
      restoredId = r.result.volumeId;
      const phases = await historyPhases(pf.client, workflowId);
      const row: Row = { tool: 'permafrost', op: 'restore', seconds: r.seconds, phases, rss: r.rss, load1: load, workflowId, cleanupSeconds: undoSeconds(phases) };
      await this.verify(row, restoredId);
      this.add(row);
      await this.leftovers(workflowId, restoredId);
    } finally {
      const id = restoredId;
      if (id) await deleteVolume(this.c, id).catch((err: unknown) => this.problems.push(`could not delete restored volume ${id}: ${String(err)}`));
    }
  }

  checks(): Check[] {
    const pfB = this.find('permafrost', 'backup');
    const pfR = this.find('permafrost', 'restore');
    const flB = this.find('OpenStack floor', 'backup');
    const flR = this.find('OpenStack floor', 'restore');
    const peaks = [pfB, pfR].flatMap((r) => (r?.rss ? [r.rss.processBytes] : []));
    // The part of the backup the floor also times: up to the committed backup, without the undo of the temporaries.
    const stream = pfB?.phases.find((p) => p.name.startsWith('streamImageToStorage'));
    const untilCommit = stream ? stream.at + (stream.queued ?? 0) + stream.seconds : undefined;
    return [
      { name: 'backup: permafrost / OpenStack floor', value: ratio(pfB?.seconds, flB?.seconds), unit: 'x', target: { op: '<=', limit: TARGETS.backupRatio } },
      { name: 'restore: permafrost / OpenStack floor', value: ratio(pfR?.seconds, flR?.seconds), unit: 'x', target: { op: '<=', limit: TARGETS.restoreRatio } },
      { name: 'node worker peak RSS', value: peaks.length ? Math.max(...peaks) / MiB : undefined, unit: ' MiB', target: { op: '<=', limit: TARGETS.rssMiB } },
      { name: `stored bytes / ${mb(this.source.dataBytes)} MiB of data`, value: ratio(pfB?.storedBytes, this.source.dataBytes), unit: 'x' },
      { name: 'backup until commit (no undo) / floor', value: ratio(untilCommit, flB?.seconds), unit: 'x' },
      { name: `Freezer backup ${FREEZER.backupSeconds} s / permafrost`, value: ratio(FREEZER.backupSeconds, pfB?.seconds), unit: 'x faster' },
      { name: `Freezer restore ${FREEZER.restoreSeconds} s / permafrost`, value: ratio(FREEZER.restoreSeconds, pfR?.seconds), unit: 'x faster' },
      { name: 'Freezer stored bytes / permafrost', value: ratio(FREEZER.backupStoredBytes, pfB?.storedBytes), unit: 'x' },
    ];
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { 'data-mib': { type: 'string' }, keep: { type: 'boolean' } } });
  const dataMiB = Number(values['data-mib'] ?? 256);
  if (!Number.isInteger(dataMiB) || dataMiB < 1 || dataMiB > 1024) throw new Error(`--data-mib must be a whole number from 1 to 1024 (got ${values['data-mib']})`);
  const started = new Date();
  const tag = started.toISOString().replace(/\D/g, '').slice(2, 14);
  const loadStart = sh('cut -d" " -f1-3 /proc/loadavg');
  say(`permafrost Cinder volume benchmark, ${started.toISOString()}`);
  sayMachine(loadStart);

  const cloud = labCloud(); // also points the workers started below at the lab's clouds.yaml
  const c = await openLab();
  const workDir = await mkdtemp(join(tmpdir(), 'permafrost-bench-volume-'));
  let bench: VolumeBench | undefined;
  let sourceId: string | undefined;
  let pf: PermafrostEnv | undefined;
  const stopOnSignal = (): void => void (pf?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  try {
    const t0 = performance.now();
    const src = await createVolumeWithData(c, { name: `pf-bench-volume-src-${tag}`, sizeGiB: 1, dataBytes: dataMiB * MiB });
    sourceId = src.id;
    say(`source: volume ${src.id} (cloud ${cloud.cloud}), 1 GiB, first ${dataMiB} MiB random, the rest zeros; made in ${s2((performance.now() - t0) / 1000)} s`);
    bench = new VolumeBench(c, { id: src.id, sha256: src.sha256, sizeGiB: 1, dataBytes: dataMiB * MiB }, workDir, tag);
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
    say('floor: the same OpenStack API steps with the project clients, 0.2 s polls, nothing stored');
    say('permafrost: backupVolume / restoreVolume workflows (dev server + node worker process, local storage, zstd, 8 MiB segments)');
    say('order: floor backup, permafrost backup, floor restore, permafrost restore (each pair close in time: the load is shared)');
    const storageDir = join(workDir, 'storage');
    pf = await startPermafrost({ workDir, storage: `local:${storageDir}`, logFile: join(workDir, 'worker.log') });
    const env = pf;
    process.once('SIGINT', stopOnSignal);
    say('\n(a) backup');
    await step('floor backup', () => b.floorBackup());
    let name: string | undefined;
    await step('permafrost backup', async () => {
      name = await b.permafrostBackup(env, storageDir);
    });
    say('\n(b) restore');
    await step('floor restore', () => b.floorRestore());
    const backupName = name;
    if (backupName) await step('permafrost restore', () => b.permafrostRestore(env, storageDir, backupName));
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    await pf?.stop();
    if (sourceId) await deleteVolume(c, sourceId).catch((err: unknown) => bench?.problems.push(`could not delete the source volume ${sourceId}: ${String(err)}`));
    await c.close();
    if (!values.keep && !bench?.broken) await rm(workDir, { recursive: true, force: true });
  }

  if (!bench) throw new Error('the benchmark did not start');
  const loadEnd = sh('cut -d" " -f1-3 /proc/loadavg');
  const gib = 1024 * MiB;
  say(`\n=== results: 1 GiB volume (${dataMiB} MiB random + zeros); MiB/s = 1 GiB / wall time ===`);
  say(
    table(
      ['tool', 'op', 'wall s', 'MiB/s', 'stored MiB', 'worker RSS MiB', 'tree RSS MiB', 'load1', 'identical'],
      bench.rows.map((r) => [
        r.tool,
        r.op,
        s2(r.seconds),
        (gib / MiB / r.seconds).toFixed(1),
        r.storedBytes !== undefined ? mb(r.storedBytes) : '-',
        r.rss ? mb(r.rss.processBytes) : '-',
        r.rss ? mb(r.rss.treeBytes) : '-',
        r.load1.toFixed(2),
        r.verified === undefined ? '-' : r.verified ? 'yes' : 'NO',
      ])
    )
  );
  say(`Freezer 13.0.0 (patched) on this lab, from ${FREEZER.source}: backup ${FREEZER.backupSeconds} s (1024 MiB stored, ${mb(FREEZER.backupRssBytes)} MiB RSS), restore ${FREEZER.restoreSeconds} s.`);
  for (const r of bench.rows) {
    say(`\n--- phases: ${r.tool} ${r.op}${r.workflowId ? ` (workflow ${r.workflowId}; from its history)` : ''} ---`);
    say(
      table(
        ['step', 'at s', 'queued s', 'took s'],
        r.phases.map((p) => [p.name.length > 90 ? `${p.name.slice(0, 87)}...` : p.name, s2(p.at), p.queued !== undefined ? s2(p.queued) : '-', s2(p.seconds)])
      )
    );
    if (r.workflowId) {
      const inActivities = r.phases.reduce((a, p) => a + (Number.isFinite(p.seconds) ? p.seconds : 0), 0);
      say(`wall ${s2(r.seconds)} s = ${s2(inActivities)} s in activities + ${s2(r.seconds - inActivities)} s between them (workflow tasks, queueing, client); undo (deleteTemporaries) ${s2(r.cleanupSeconds ?? 0)} s`);
    } else if (r.cleanupSeconds !== undefined) say(`deleting the floor's resources afterwards took ${s2(r.cleanupSeconds)} s (not counted)`);
  }

  const checks = bench.checks();
  say('\n=== ratios and targets ===');
  say(
    table(
      ['', 'value', 'target', 'result'],
      checks.map((ch) => [ch.name, ch.value === undefined ? 'n/a' : `${ch.value.toFixed(2)}${ch.unit}`, ch.target ? `${ch.target.op} ${ch.target.limit}${ch.unit}` : '', verdict(ch)])
    )
  );
  const missed = checks.filter((ch) => verdict(ch) === 'MISS' || verdict(ch) === 'n/a');
  say(`\nload average (1/5/15 min): ${loadStart} at start, ${loadEnd} at end; page cache ${bench.cacheDropped ? 'dropped before every step' : 'NOT dropped'}`);
  const maxLoad = Math.max(0, ...bench.rows.map((r) => r.load1));
  const overloaded = maxLoad > 2 * availableParallelism();
  if (overloaded) {
    say(`WARNING: load average up to ${maxLoad.toFixed(1)} on ${availableParallelism()} CPUs: OpenStack (cinder-volume, glance) and permafrost compete with other work;`);
    say('         the ratios are noisy and the Freezer comparison (measured on an idle machine) does not hold. Re-run on a quiet machine.');
  }
  for (const p of bench.problems) say(`problem: ${p}`);
  if (missed.length > 0) say(`\n*** MISSED: ${missed.map((ch) => `${ch.name} = ${ch.value === undefined ? 'n/a' : ch.value.toFixed(2) + ch.unit} (target ${ch.target!.op} ${ch.target!.limit}${ch.unit})`).join('; ')} ***`);
  else say('\nall targets met');

  const resultsDir = join(REPO, 'bench/results');
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `volume-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const json = {
    started: started.toISOString(),
    machine: { hostname: hostname(), cpus: availableParallelism(), model: cpus()[0]?.model, memBytes: totalmem(), kernel: release() },
    load: { start: loadStart, end: loadEnd },
    versions: { node: process.version, zstd: sh('zstd --version') },
    source: { cloud: cloud.cloud, sizeBytes: gib, dataBytes: dataMiB * MiB },
    pageCacheDropped: bench.cacheDropped,
    overloaded,
    rows: bench.rows,
    freezer: FREEZER,
    checks: checks.map((ch) => ({ ...ch, result: verdict(ch) })),
    missed: missed.map((ch) => ch.name),
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
    console.error(`bench:volume: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  }
);
