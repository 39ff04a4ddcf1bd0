/** Incremental chains through the real dev server on local storage (the same scenario runs over Swift in test/storage). */
import { after, before, test } from 'node:test';
import { runChainScenario } from '../helpers/chain-scenario';
import { startTestEnv } from '../helpers/temporal';
import type { TestEnv } from '../helpers/temporal';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => env.shutdown());

test('local: a chain 0,1,2,1(alwaysLevel) restores every point in time exactly, by backup and by date', async () => {
  await runChainScenario(env, env.storage, 'chain');
});
