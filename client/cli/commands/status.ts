import type { PermafrostClient } from '../../index';
import { formatBytes } from '../output/format';
import type { Output } from '../output/output';

export async function runStatus(client: PermafrostClient, workflowId: string, out: Output): Promise<void> {
  const s = await client.status(workflowId);
  const lines = [
    `${s.workflowId} (${s.type}, run ${s.runId})`,
    `  status: ${s.status}`,
    `  started: ${s.startTime ?? '-'}${s.closeTime ? `, closed: ${s.closeTime}` : ''}`,
    ...Object.entries(s.searchAttributes).map(([k, v]) => `  ${k}: ${String(v)}`),
    ...s.steps.map((st) => {
      const p = st.progress;
      const detail = p ? ` ${p.phase}, ${formatBytes(p.bytes)}${p.totalBytes ? ` of ${formatBytes(p.totalBytes)}` : ''}, ${p.files} files, segment ${p.segment}` : '';
      return `  running step: ${st.step} (attempt ${st.attempt})${detail}${st.lastFailure ? `; last failure: ${st.lastFailure}` : ''}`;
    }),
    ...(s.failure ? [`  failure: ${s.failure}`] : []),
  ];
  out.result(s, lines.join('\n'));
}
