// Per-plugin logging: `logger` receives the plugin's log text at `logLevel`
// and above, and `get_log_level` reports the plugin's level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import createPlugin, { createPluginSync } from '@extism-rs/extism';
import { pdk, recorder, wat } from './helpers.mjs';

const level = async (p) => (await p.call('level')).getInt32(0, true);

test('logLevel filters and get_log_level reports it', async () => {
  const expected = {
    trace: [0, ['trace', 'debug', 'info', 'warn', 'error']],
    debug: [1, ['debug', 'info', 'warn', 'error']],
    info: [2, ['info', 'warn', 'error']],
    warn: [3, ['warn', 'error']],
    error: [4, ['error']],
    silent: [2147483647, []],
  };
  for (const [logLevel, [code, levels]] of Object.entries(expected)) {
    const { lines, logger } = recorder();
    const p = await createPlugin(wat('log'), { logLevel, logger });
    await p.call('log_all', `at ${logLevel}`);
    assert.deepEqual(lines, levels.map((l) => [l, `at ${logLevel}`]), logLevel);
    assert.equal(await level(p), code);
  }
});

test('the default is silent, and log lines arrive before the call resolves', async () => {
  const { lines, logger } = recorder();
  const quiet = await createPlugin(wat('log'), { logger });
  await quiet.call('log_all', 'nothing');
  assert.deepEqual(lines, []);
  const p = await createPlugin(pdk('logging'), { logger, logLevel: 'debug' });
  assert.equal((await p.call('log_all', 'pdk')).text(), 'ok');
  assert.deepEqual(lines, [
    ['info', 'pdk'],
    ['debug', 'pdk'],
    ['warn', 'pdk'],
    ['error', 'pdk'],
  ]);
});

test('logging on the synchronous path, and a logger that throws', () => {
  const { lines, logger } = recorder();
  const p = createPluginSync(wat('log'), { logger, logLevel: 'warn' });
  p.callSync('log_all', 'sync');
  assert.deepEqual(lines, [
    ['warn', 'sync'],
    ['error', 'sync'],
  ]);
  const throwing = createPluginSync(wat('log'), {
    logLevel: 'error',
    logger: {
      error() {
        throw new Error('logger failed');
      },
    },
  });
  assert.equal(throwing.callSync('log_all', 'x'), null);
});

test('a logger without some methods', async () => {
  const seen = [];
  const p = await createPlugin(wat('log'), { logLevel: 'trace', logger: { error: (t) => seen.push(t) } });
  await p.call('log_all', 'only errors');
  assert.deepEqual(seen, ['only errors']);
});
