import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileExcludes } from '../../activities/pipeline/exclude';

test('patterns without a slash match names at any depth; others match the relative path', () => {
  const ex = compileExcludes(['*.log', '.cache', 'build/**', 'var/tmp']);
  assert.ok(ex('app.log'));
  assert.ok(ex('deep/down/app.log'));
  assert.ok(ex('home/u/.cache'));
  assert.ok(ex('build/x/y.o'));
  assert.ok(ex('var/tmp'));
  assert.ok(!ex('src/build/x'), 'anchored at the source root');
  assert.ok(!ex('app.log.txt'));
  assert.ok(!ex('var/tmpfile'));
  assert.ok(!compileExcludes([])('anything'));
});
