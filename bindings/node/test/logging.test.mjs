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

// `run` logs "a" at info and at error, calls the host function `pick_level`,
// logs "b" at info and at error, and outputs get_log_level() as one byte.
const SET_LEVEL = `(module
  (import "extism:host/user" "pick_level" (func $pick))
  (import "extism:host/env" "get_log_level" (func $level (result i32)))
  (import "extism:host/env" "log_info" (func $info (param i64)))
  (import "extism:host/env" "log_error" (func $error (param i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $out (param i64 i64)))
  (func $byte (param $c i32) (result i64) (local $h i64)
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (local.get $c))
    (local.get $h))
  (func (export "run") (result i32)
    (call $info (call $byte (i32.const 97)))
    (call $error (call $byte (i32.const 97)))
    (call $pick)
    (call $info (call $byte (i32.const 98)))
    (call $error (call $byte (i32.const 98)))
    (call $out (call $byte (call $level)) (i64.const 1))
    (i32.const 0)))`;

test('CallContext.logLevel can be set, as in the JS SDK: the plugin logs at the new level from then on', async () => {
  const { lines, logger } = recorder();
  let next = 'info';
  let kept = null;
  const seen = [];
  const functions = {
    'extism:host/user': {
      pick_level(ctx) {
        seen.push(ctx.logLevel);
        ctx.logLevel = next;
        kept = ctx;
      },
    },
  };
  const p = await createPlugin(Buffer.from(SET_LEVEL), { logger, logLevel: 'error', functions });
  // During the call: "b" is logged at info too, and get_log_level says info (2).
  assert.deepEqual([...(await p.call('run')).bytes()], [2]);
  assert.deepEqual(lines.splice(0), [['error', 'a'], ['info', 'b'], ['error', 'b']]);
  // The level stays for the next calls (sync ones too), until set again.
  next = 'silent';
  assert.deepEqual([...p.callSync('run').bytes()], [0xff]);
  assert.deepEqual(lines.splice(0), [['info', 'a'], ['error', 'a']]);
  assert.deepEqual(seen, ['error', 'info']);
  // A context kept after its host call still reads and sets the plugin's level.
  assert.equal(kept.logLevel, 'silent');
  kept.logLevel = 'warn';
  next = 'warn';
  assert.deepEqual([...(await p.call('run')).bytes()], [3]);
  assert.deepEqual(lines.splice(0), [['error', 'a'], ['error', 'b']]);
  assert.throws(() => {
    kept.logLevel = 'verbose';
  }, { name: 'TypeError', message: /unrecognized log level "verbose"/ });
  assert.equal(kept.logLevel, 'warn');
});

test('a log flood waiting for a blocked logger is bounded, and the logger is told how much was dropped', async () => {
  // The first message blocks the JS thread long enough for the plugin (on its
  // own thread) to queue all 1100 messages of 16 KiB: more than the 16 MiB a
  // plugin's queue holds.
  const texts = [];
  let blocked = false;
  const logger = {
    info(text) {
      if (!blocked) {
        blocked = true;
        const until = Date.now() + 2000;
        while (Date.now() < until);
      }
      texts.push(['info', text.length]);
    },
    warn(text) {
      texts.push(['warn', text]);
    },
  };
  const p = await createPlugin(wat('log'), { logger, logLevel: 'info' });
  const message = 'z'.repeat(16 * 1024);
  await p.call('log_many', message);
  const notice = texts.pop();
  const kept = texts.length;
  assert.ok(texts.every(([level, n]) => level === 'info' && n === message.length));
  assert.ok(kept * message.length <= 16 * 1024 * 1024 + message.length, `${kept} kept`);
  assert.deepEqual(notice, ['warn', `${1100 - kept} log messages dropped: more than 16777216 bytes were waiting to be handled`]);
  // The next call delivers every message again.
  texts.length = 0;
  await p.call('log_all', 'after');
  assert.deepEqual(texts, [['info', 5], ['warn', 'after']]);
});
