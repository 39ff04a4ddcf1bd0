#!/usr/bin/env node
/**
 * permafrost CLI. The one place where errors become exit codes:
 *   0 success, 1 the run failed, 2 invalid input, 3 cancelled/terminated/timed out,
 *   4 Temporal or a worker unavailable, 5 no such workflow.
 */
import { Command, CommanderError, Option } from 'commander';
import { CancelledFailure, TerminatedFailure, TimeoutFailure, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ConfigError, loadConfig } from '../config';
import type { ConfigFlags } from '../config';
import { describeFailure, PermafrostClient, ValidationError, WorkerUnavailableError } from '../index';
import { COMPRESSIONS } from '../../workflows/shared/types';
import { runBackupFs } from './commands/backup';
import { addImageCommands } from './commands/image';
import { addServerCommands } from './commands/server';
import { addSweepCommand } from './commands/sweep';
import { addVolumeCommands } from './commands/volume';
import type { Runner } from './commands/volume';
import { collect, EXIT_HELP, intArg, keyRef } from './flags';
import type { KeyFlags } from './flags';
import { runCancel } from './commands/cancel';
import { runInfo } from './commands/info';
import { runGc } from './commands/gc';
import { runPrune } from './commands/prune';
import { runVerify } from './commands/verify';
import { runList } from './commands/list';
import { runRestoreFs } from './commands/restore';
import { runStatus } from './commands/status';
import { createOutput } from './output/output';
import type { Output } from './output/output';

const EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 3, unavailable: 4, notFound: 5 } as const;

interface GlobalOptions extends ConfigFlags {
  json?: boolean;
}

interface BackupFlags extends KeyFlags {
  name: string;
  node?: string;
  storage?: string[];
  exclude?: string[];
  compression: string;
  level?: number;
  segmentSize: string;
  maxLevel?: number;
  alwaysLevel?: number;
  restartAlwaysLevel?: number;
  wait: boolean;
}

interface RestoreFlags extends KeyFlags {
  name: string;
  target: string;
  backup?: string;
  fromDate?: string;
  host?: string;
  node?: string;
  storage?: string;
  overwrite?: boolean;
  allowExternalSymlinks?: boolean;
  dryRun?: boolean;
  wait: boolean;
}

async function withClient(program: Command, fn: (client: PermafrostClient, out: Output) => Promise<void>): Promise<void> {
  const g = program.opts<GlobalOptions>();
  const config = loadConfig(g);
  const out = createOutput(g.json ?? false);
  let client: PermafrostClient;
  try {
    client = await PermafrostClient.connect(config);
  } catch (err) {
    throw new WorkerUnavailableError(`cannot reach Temporal at ${config.temporal.address}: ${(err as Error).message}`);
  }
  try {
    await fn(client, out);
  } finally {
    await client.close();
  }
}

export function buildProgram(): Command {
  const program = new Command('permafrost')
    .description('Backup, restore and disaster recovery for OpenStack clouds, on Temporal')
    .option('--address <host:port>', 'Temporal frontend (env TEMPORAL_ADDRESS, default 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (env TEMPORAL_NAMESPACE, default "default")')
    .option('--json', 'print results as JSON, no progress')
    .addHelpText('after', EXIT_HELP)
    .exitOverride()
    .showHelpAfterError();

  const backup = program.command('backup').description('take a backup');
  backup
    .command('fs')
    .description('back up folders or files of a node')
    .argument('<paths...>', 'absolute paths on the node')
    .requiredOption('--name <name>', 'backup name (stored as <node>_<name>)')
    .option('--node <node>', 'node that reads the paths (default: this host)')
    .option('--storage <url>', 'where to store, e.g. local:/srv/backups (env PERMAFROST_STORAGE); repeat to fan out to several', collect)
    .option('--exclude <glob>', 'skip matching paths; repeatable; without / it matches names at any depth', collect)
    .addOption(new Option('--compression <alg>', 'compression').choices([...COMPRESSIONS]).default('zstd'))
    .option('--level <n>', 'compression level', intArg)
    .option('--segment-size <size>', 'bytes per stored segment, e.g. 64MiB', '64MiB')
    .option('--key-file <path>', 'encrypt (AES-256-GCM per segment) with the 256-bit key in this file on the node (mode 600)')
    .option('--key-env <var>', "encrypt with the key in this environment variable of the node's worker")
    .option('--limit <rate>', 'upload bandwidth limit per second, e.g. 50MiB')
    .option('--max-level <n>', 'incremental: levels 0..n-1, then a new level 0', intArg)
    .option('--always-level <n>', 'incremental: levels 0..n, then every backup at level n against level n-1 (differential)', intArg)
    .option('--restart-always-level <days>', "start a new level 0 when the chain's level 0 is this many days old", Number)
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', EXIT_HELP)
    .action(async (paths: string[], o: BackupFlags) => {
      await withClient(program, (client, out) =>
        runBackupFs(
          client,
          paths,
          {
            name: o.name,
            node: o.node,
            storage: o.storage,
            exclude: o.exclude,
            compression: o.compression,
            compressionLevel: o.level,
            segmentSize: o.segmentSize,
            encryption: keyRef(o),
            bandwidthLimit: o.limit,
            levels: { maxLevel: o.maxLevel, alwaysLevel: o.alwaysLevel, restartAlwaysLevelDays: o.restartAlwaysLevel },
            wait: o.wait,
          },
          out
        )
      );
    });

  const restore = program.command('restore').description('restore a backup');
  restore
    .command('fs')
    .description('restore a filesystem backup into a folder of a node')
    .requiredOption('--name <name>', 'backup name')
    .requiredOption('--target <dir>', 'absolute folder to restore into (created if missing)')
    .option('--backup <id>', 'exact backup: <host>_<name>/<timestamp> or a timestamp (default: the newest)')
    .option('--from-date <iso8601>', 'newest backup taken at or before this instant (UTC unless a zone is given)')
    .option('--host <host>', 'host the backup was taken on (default: the node)')
    .option('--node <node>', 'node that writes the target (default: this host)')
    .option('--storage <url>', 'where the backup is stored')
    .option('--overwrite', 'replace existing files in the target (never a non-empty folder)')
    .option('--allow-external-symlinks', 'restore symlinks that point outside the target')
    .option('--key-file <path>', 'key file of an encrypted backup, on the node')
    .option('--key-env <var>', "environment variable of the node's worker holding the key")
    .option('--limit <rate>', 'download bandwidth limit per second, e.g. 50MiB')
    .option('--dry-run', 'print the plan (the backups the restore would apply) and stop')
    .option('--no-wait', 'print the workflow id and return')
    .addHelpText('after', EXIT_HELP)
    .action(async (o: RestoreFlags) => {
      const { keyFile: _f, keyEnv: _e, limit, ...rest } = o;
      await withClient(program, (client, out) => runRestoreFs(client, { ...rest, encryption: keyRef(o), bandwidthLimit: limit }, out));
    });

  const run: Runner = (fn) => withClient(program, fn);
  addVolumeCommands(backup, restore, run);
  addImageCommands(backup, restore, run);
  addServerCommands(backup, restore, run);

  program
    .command('list')
    .description('list committed backups in a storage')
    .option('--storage <url>', 'storage to list')
    .option('--name <name>', 'only this backup name')
    .option('--host <host>', 'only backups taken on this host; volume, image or server for OpenStack backups')
    .option('--node <node>', 'node that reads the storage (default: this host)')
    .action(async (o: { storage?: string; name?: string; host?: string; node?: string }) => {
      await withClient(program, (client, out) => runList(client, o, out));
    });

  program
    .command('verify')
    .description('re-read a stored backup: every segment hash, decryption with the key, and the archive itself')
    .argument('<backup>', '<host>_<name>/<timestamp>, as list shows it')
    .option('--storage <url>', 'where the backup is stored')
    .option('--node <node>', 'node that reads the storage (default: this host)')
    .option('--key-file <path>', 'key file of an encrypted backup, on the node')
    .option('--key-env <var>', "environment variable of the node's worker holding the key")
    .addHelpText('after', EXIT_HELP)
    .action(async (backup: string, o: { storage?: string; node?: string } & KeyFlags) => {
      await withClient(program, (client, out) => runVerify(client, { backup, storage: o.storage, node: o.node, encryption: keyRef(o) }, out));
    });

  program
    .command('info')
    .description('backups per host and name in a storage, with sizes and segment counts')
    .option('--storage <url>', 'storage to describe')
    .option('--node <node>', 'node that reads the storage (default: this host)')
    .action(async (o: { storage?: string; node?: string }) => {
      await withClient(program, (client, out) => runInfo(client, o, out));
    });

  program
    .command('prune')
    .description('apply a retention policy to the backups of one name; backups a kept one depends on are always kept')
    .requiredOption('--name <name>', 'backup name')
    .option('--host <host>', 'host the backups were taken on (default: the node)')
    .option('--node <node>', 'node that reads and deletes in the storage (default: this host)')
    .option('--storage <url>', 'where the backups are stored')
    .option('--keep-last <n>', 'keep the n newest backups')
    .option('--keep-daily <n>', 'keep the newest backup of each of the last n UTC days that have backups')
    .option('--keep-weekly <n>', 'keep the newest backup of each of the last n ISO weeks (UTC) that have backups')
    .option('--keep-monthly <n>', 'keep the newest backup of each of the last n UTC months that have backups')
    .option('--older-than <duration>', 'delete backups older than this (e.g. 30d, 36h, 2w) unless kept by a rule; newer ones are kept')
    .option('--dry-run', 'print the plan (every backup, KEEP or DELETE, with reasons) and delete nothing')
    .addHelpText('after', `\nThe newest backup is always kept. Without --older-than, every backup no keep rule keeps is deleted.${EXIT_HELP}`)
    .action(
      async (o: { name: string; host?: string; node?: string; storage?: string; keepLast?: string; keepDaily?: string; keepWeekly?: string; keepMonthly?: string; olderThan?: string; dryRun?: boolean }) => {
        await withClient(program, (client, out) => runPrune(client, o, out));
      }
    );

  program
    .command('gc')
    .description('remove uncommitted data (folders without a manifest, temp files) older than a grace period from a storage')
    .option('--storage <url>', 'storage to clean')
    .option('--node <node>', 'node that reads and deletes in the storage (default: this host)')
    .option('--grace <duration>', 'only folders whose backup started longer ago than this (at least 1h; longer than your longest backup)', '24h')
    .option('--dry-run', 'list what would be removed and remove nothing')
    .addHelpText('after', EXIT_HELP)
    .action(async (o: { storage?: string; node?: string; grace: string; dryRun?: boolean }) => {
      await withClient(program, (client, out) => runGc(client, o, out));
    });

  addSweepCommand(program, run);

  program
    .command('status')
    .description('show a workflow: state, running step with progress, result or failure')
    .argument('<workflow-id>')
    .action(async (id: string) => {
      await withClient(program, (client, out) => runStatus(client, id, out));
    });

  program
    .command('cancel')
    .description('cancel a running backup or restore; its temporaries are removed before it closes')
    .argument('<workflow-id>')
    .action(async (id: string) => {
      await withClient(program, (client, out) => runCancel(client, id, out));
    });
  return program;
}

function exitCodeOf(err: unknown): { code: number; message: string } {
  if (err instanceof CommanderError) return { code: err.exitCode === 0 ? EXIT.ok : EXIT.usage, message: '' };
  if (err instanceof ValidationError || err instanceof ConfigError) return { code: EXIT.usage, message: err.message };
  if (err instanceof WorkerUnavailableError) return { code: EXIT.unavailable, message: err.message };
  if (err instanceof WorkflowNotFoundError) return { code: EXIT.notFound, message: err.message };
  if (err instanceof WorkflowFailedError) {
    const cause = err.cause;
    if (cause instanceof CancelledFailure || cause instanceof TerminatedFailure || cause instanceof TimeoutFailure) {
      return { code: EXIT.cancelled, message: `the run was ${cause instanceof CancelledFailure ? 'cancelled' : cause instanceof TerminatedFailure ? 'terminated' : 'timed out'}` };
    }
    return { code: EXIT.failed, message: describeFailure(err) };
  }
  return { code: EXIT.failed, message: err instanceof Error ? err.message : String(err) };
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    const { code, message } = exitCodeOf(err);
    if (message) process.stderr.write(`permafrost: ${message}\n`);
    return code;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
