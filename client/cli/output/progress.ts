/** Progress of a running workflow on stderr: a bar on a terminal, a line every 10 s otherwise, nothing with --json. */
import { SingleBar } from 'cli-progress';
import type { TransferProgress } from '../../../workflows/shared/types';
import { formatBytes } from './format';

export interface ProgressView {
  update(step: string | undefined, progress: TransferProgress | undefined): void;
  stop(): void;
}

export function createProgressView(mode: 'tty' | 'lines' | 'silent', label: string): ProgressView {
  if (mode === 'silent') return { update: () => undefined, stop: () => undefined };
  if (mode === 'lines') {
    let last = 0;
    return {
      update(step, p) {
        if (Date.now() - last < 10_000) return;
        last = Date.now();
        process.stderr.write(`${label}: ${describe(step, p)}\n`);
      },
      stop: () => undefined,
    };
  }
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {detail}`,
    hideCursor: true,
    stream: process.stderr,
    barsize: 30,
  });
  bar.start(100, 0, { detail: 'starting' });
  return {
    update(step, p) {
      const pct = p?.totalBytes ? Math.min(100, Math.floor((p.bytes / Math.max(1, p.totalBytes)) * 100)) : 0;
      bar.update(pct, { detail: describe(step, p) });
    },
    stop: () => bar.stop(),
  };
}

function describe(step: string | undefined, p: TransferProgress | undefined): string {
  if (!step) return 'waiting';
  if (!p) return step;
  if (p.phase === 'waiting') return `${step}: waiting${p.status ? ` (status ${p.status})` : ''}`;
  const total = p.totalBytes !== undefined ? ` of ${formatBytes(p.totalBytes)}` : '';
  return `${step} ${p.phase}: ${formatBytes(p.bytes)}${total}, ${p.files} files, ${p.segment} segments (${formatBytes(p.storedBytes)} stored)`;
}
