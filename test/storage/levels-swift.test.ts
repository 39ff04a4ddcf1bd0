/** Incremental chains through the real dev server on real Swift (Keystone v3 from the lab's OS_* environment). */
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { runChainScenario } from '../helpers/chain-scenario';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';

let env: TestEnv;
before(async () => {
  if (!process.env.OS_AUTH_URL) throw new Error('OS_AUTH_URL is not set: run through `npm test` (scripts/test.sh starts the lab)');
  env = await startTestEnv();
});
after(async () => env?.shutdown());

test('swift: a chain 0,1,2,1(alwaysLevel) restores every point in time exactly, by backup and by date', async () => {
  await runChainScenario(env, `swift:chain-${randomBytes(4).toString('hex')}`, 'chain');
});
