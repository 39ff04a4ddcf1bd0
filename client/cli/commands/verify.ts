import type { PermafrostClient } from '../../index';
import type { VerifyRequest } from '../../validate';
import type { VerifyBackupResult } from '../../../workflows/shared/types';
import { follow } from '../follow';
import { formatBytes } from '../output/format';
import type { Output } from '../output/output';

export async function runVerify(client: PermafrostClient, req: VerifyRequest, out: Output): Promise<void> {
  const handle = await client.startVerifyBackup(req);
  const r = await follow<VerifyBackupResult>(client, handle, { json: out.json, label: 'verify' });
  const what = r.archiveChecked
    ? `archive read end to end: ${r.entries} entries, ${formatBytes(r.bytes)}${r.decrypted ? ', every segment decrypted and authenticated' : ''}`
    : 'encrypted and no key given: segment hashes checked, content not decrypted';
  out.result(r, `backup ${r.ref.host}_${r.ref.name}/${r.ref.timestamp} is intact\n  ${r.segments} segments, ${formatBytes(r.storedBytes)} stored, every sha256 matches; ${what}`);
}
