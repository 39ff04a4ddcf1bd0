/** Saves a workflow's history the way the UI and the CLI export it, for the replay tier. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
export const HISTORIES = join(ROOT, 'test', 'replay', 'histories');
const TEMPORAL = join(ROOT, '.tools', 'bin', 'temporal');

/** Writes `<version>-<label>.json` from `temporal workflow show -o json` (what Worker.runReplayHistory reads). */
export async function saveHistory(address: string, version: string, label: string, workflowId: string): Promise<void> {
  const json = execFileSync(TEMPORAL, ['workflow', 'show', '-w', workflowId, '-o', 'json', '--address', address], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  await mkdir(HISTORIES, { recursive: true });
  const file = join(HISTORIES, `${version}-${label}.json`);
  await writeFile(file, json);
  console.log(`recorded ${file}`);
}
