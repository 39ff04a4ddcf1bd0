const { MockActivityEnvironment } = require('@temporalio/testing');
const { createNodeActivities } = require('./dist/activities');
const { openStorage } = require('./dist/activities/storage/registry');
const { writeRandomFile, tempDir, listFiles } = require('./dist/test/helpers/tree');
const path = require('path');
(async () => {
  const acts = createNodeActivities({ openStorage });
  const src = await tempDir('src'); const store = await tempDir('store');
  await writeRandomFile(path.join(src, 'big.bin'), 100 * 1024 * 1024);
  const input = { node: 'n', name: 'x', paths: [src], exclude: [], storage: { driver: 'local', path: store }, compression: process.argv[2], compressionLevel: process.argv[2]==='gzip'?9:undefined, segmentSize: 1024*1024, timestamp: '20261126T120000.000Z' };
  const plan = await new MockActivityEnvironment().run(acts.planFsBackup, input);
  const env = new MockActivityEnvironment(); let c = false;
  env.on('heartbeat', d => { if (!c && d.segment >= 3) { c = true; env.cancel(); console.log('cancel at', d.segment); } });
  await env.run(acts.backupFilesystem, { ...input, ...plan }).catch(e => console.log('rejected', e.constructor.name));
  console.log('after reject', (await listFiles(store)).length);
  await new Promise(r => setTimeout(r, 3000));
  console.log('after 3s', (await listFiles(store)).length);
})();
