// Host functions: typed from the plugin's imports, sync and async, with the
// official CallContext, on both the asynchronous and the synchronous path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import createPlugin, { createPluginSync } from '@extism-rs/extism';
import { pdk, sleep, wat } from './helpers.mjs';

const USER = 'extism:host/user';

test('a host function reads its input block and returns a new one', async () => {
  const seen = [];
  const functions = {
    [USER]: {
      hello_world(ctx, addr) {
        assert.equal(typeof addr, 'bigint');
        seen.push(ctx.hostContext());
        return ctx.store(`Hello, ${ctx.read(addr).text()}!`);
      },
    },
  };
  for (const source of [wat('host'), pdk('host_call')]) {
    const p = await createPlugin(source, { functions });
    assert.equal((await p.call('call_host', 'world', { id: 1 })).text(), 'Hello, world!');
    assert.equal(p.callSync('call_host', 'sync', 'ctx').text(), 'Hello, sync!');
    assert.equal((await p.call('call_host', 'none')).text(), 'Hello, none!');
  }
  assert.deepEqual(seen, [{ id: 1 }, 'ctx', undefined, { id: 1 }, 'ctx', undefined]);
});

test('an async host function is awaited while the event loop runs', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const functions = {
    [USER]: {
      async hello_world(ctx, addr) {
        const text = ctx.read(addr).text();
        await sleep(60);
        // The context stays valid while the Promise is pending.
        return ctx.store(`${text} after ${ctx.hostContext()}`);
      },
    },
  };
  const p = await createPlugin(wat('host'), { functions });
  const out = await p.call('call_twice', 'x', 'waiting');
  clearInterval(timer);
  assert.equal(out.text(), 'x after waiting');
  assert.ok(ticks >= 5, `only ${ticks} ticks during two 60 ms host calls`);
  const thenable = await createPlugin(wat('host'), {
    functions: { [USER]: { hello_world: (ctx) => ({ then: (resolve) => resolve(ctx.store('thenable')) }) } },
  });
  assert.equal((await thenable.call('call_host', '')).text(), 'thenable');
});

test('callSync cannot wait for a Promise', async () => {
  const p = await createPlugin(wat('host'), { functions: { [USER]: { hello_world: async (ctx) => ctx.store('late') } } });
  assert.throws(() => p.callSync('call_host', 'x'), {
    name: 'TypeError',
    message: `host function ${USER}::hello_world returned a Promise, which callSync cannot wait for; use call()`,
  });
  assert.equal((await p.call('call_host', 'x')).text(), 'late');
});

test('a host function that throws rejects the call with that same error', async () => {
  const boom = new RangeError('boom');
  const p = await createPlugin(wat('host'), {
    functions: {
      [USER]: {
        hello_world(ctx) {
          if (ctx.hostContext() === 'throw') throw boom;
          if (ctx.hostContext() === 'string') throw 'plain string';
          return Promise.reject(new Error('async boom'));
        },
      },
    },
  });
  await assert.rejects(p.call('call_host', 'x', 'throw'), (e) => e === boom);
  assert.throws(() => p.callSync('call_host', 'x', 'throw'), (e) => e === boom);
  await assert.rejects(p.call('call_host', 'x', 'async'), { message: 'async boom' });
  await assert.rejects(p.call('call_host', 'x', 'string'), (e) => e === 'plain string');
});

test('setError makes the call fail with a plugin error', async () => {
  const p = await createPlugin(wat('host'), {
    functions: {
      [USER]: {
        hello_world(ctx) {
          ctx.setError(ctx.hostContext() === 'error' ? new Error('from an Error') : 'from a string');
          return 0n;
        },
      },
    },
  });
  await assert.rejects(p.call('call_host', 'x', 'error'), { message: 'Plugin-originated error: from an Error' });
  assert.throws(() => p.callSync('call_host', 'x'), { message: 'Plugin-originated error: from a string' });
});

test('CallContext: alloc, length, read, store, vars, setError and logLevel', async () => {
  const checks = [];
  const p = await createPlugin(wat('host'), {
    logLevel: 'warn',
    functions: {
      [USER]: {
        hello_world(ctx, addr) {
          assert.equal(ctx.length(addr), 5n);
          assert.equal(ctx.length(Number(addr)), 5n);
          assert.equal(ctx.read(Number(addr)).text(), 'input');
          assert.equal(ctx.read(0n), null);
          assert.equal(ctx.read(addr + 1n), null);
          assert.equal(ctx.length(0n), 0n);
          const block = ctx.alloc(16);
          assert.equal(typeof block, 'bigint');
          assert.equal(ctx.length(block), 16n);
          const stored = ctx.store(new Uint8Array([1, 2, 3]));
          assert.deepEqual([...ctx.read(stored).bytes()], [1, 2, 3]);
          assert.equal(ctx.getVariable('k'), null);
          ctx.setVariable('k', 'text value');
          assert.equal(ctx.getVariable('k').text(), 'text value');
          ctx.setVariable('bytes', new Uint8Array([9, 8]));
          assert.deepEqual([...ctx.getVariable('bytes').bytes()], [9, 8]);
          ctx.deleteVariable('bytes');
          assert.equal(ctx.getVariable('bytes'), null);
          assert.throws(() => ctx.store(), { message: 'failed to store output' });
          assert.throws(() => ctx.store(null), { message: 'failed to store output' });
          assert.throws(() => ctx.store(12), { name: 'TypeError' });
          assert.throws(() => ctx.setError(null), { message: 'could not store error value' });
          assert.throws(() => ctx.read('x'), { name: 'TypeError' });
          assert.throws(() => ctx.getVariable(1), { name: 'TypeError' });
          assert.equal(ctx.logLevel, 'warn');
          // Settable, as in the JS SDK (logging.test.mjs shows its effect).
          ctx.logLevel = 'info';
          assert.equal(ctx.logLevel, 'info');
          assert.throws(
            () => {
              ctx.logLevel = 'loud';
            },
            {
              name: 'TypeError',
              message: 'unrecognized log level "loud"; expected one of "trace", "debug", "info", "warn", "error", "silent"',
            },
          );
          assert.equal(ctx.logLevel, 'info');
          ctx.logLevel = 'warn';
          ctx.deleteVariable('k');
          checks.push('ok');
          return stored;
        },
      },
    },
  });
  assert.deepEqual([...(await p.call('call_host', 'input')).bytes()], [1, 2, 3]);
  assert.deepEqual([...p.callSync('call_host', 'input').bytes()], [1, 2, 3]);
  assert.deepEqual(checks, ['ok', 'ok']);
});

test('vars set by a host function are the plugin vars', async () => {
  let ctxSaved = null;
  let stale = null;
  let staleError = null;
  const p = await createPlugin(
    { wasm: [{ path: pdk('vars'), name: 'vars' }, { path: wat('host'), name: 'main' }] },
    {
      functions: {
        [USER]: {
          hello_world(ctx) {
            ctxSaved = ctx;
            if (stale) {
              // An old context used while a newer host call of its plugin runs.
              try {
                stale.getVariable('count');
              } catch (e) {
                staleError = e;
              }
            }
            const count = ctx.getVariable('count');
            return ctx.store(count ? String(count.getUint32(0, true)) : 'none');
          },
        },
      },
    },
  );
  assert.equal((await p.call('call_host', '')).text(), 'none');
  // A context is dead once its host function returned: reads find nothing
  // (as the JS SDK answers for freed blocks), other access throws.
  assert.equal(ctxSaved.read(1n), null);
  assert.equal(ctxSaved.length(1n), 0n);
  // Also in a synchronous call, and still after later host calls of the same plugin.
  assert.equal(p.callSync('call_host', '').text(), 'none');
  const syncCtx = ctxSaved;
  assert.equal(syncCtx.read(1n), null);
  assert.equal(syncCtx.length(1n), 0n);
  stale = syncCtx;
  assert.equal(p.callSync('call_host', '').text(), 'none');
  assert.notEqual(ctxSaved, syncCtx);
  assert.match(staleError?.message ?? '', /no longer valid/);
  assert.throws(() => syncCtx.store('x'), /no longer valid/);
  const vars = await createPlugin(pdk('vars'));
  assert.equal((await vars.call('count')).text(), '1');
  assert.equal((await vars.call('count')).text(), '2');
});

test('argument and result types come from the import', async () => {
  const calls = [];
  const source = `(module
    (import "test" "typed" (func $typed (param i32 i64 f32 f64) (result i64)))
    (import "test" "report" (func $report (param i64 f64 i32)))
    (import "test" "pair" (func $pair (result i32 f64)))
    (import "test" "nothing" (func $nothing))
    (func (export "run") (result i32)
      (call $report (call $typed (i32.const -7) (i64.const -5) (f32.const 1.5) (f64.const 2.25)) (f64.const 0.5) (i32.const 3))
      (call $nothing)
      (i32.const 0))
    (func (export "run_pair") (result i32)
      (local $a i32) (local $b f64)
      (call $pair) (local.set $b) (local.set $a)
      (call $report (i64.const 0) (local.get $b) (local.get $a))
      (i32.const 0)))`;
  let result = -(2n ** 63n);
  let pair = [5, 6.5];
  const functions = {
    test: {
      typed: (ctx, ...args) => (calls.push(['typed', ...args]), result),
      report: (ctx, ...args) => {
        calls.push(['report', ...args]);
      },
      pair: () => pair,
      nothing: () => 'ignored',
    },
    unused: { never: () => assert.fail('not imported') },
  };
  const p = await createPlugin(Buffer.from(source), { functions });
  assert.equal(await p.call('run'), null);
  assert.equal(await p.call('run_pair'), null);
  assert.deepEqual(calls, [
    ['typed', -7, -5n, 1.5, 2.25],
    ['report', -(2n ** 63n), 0.5, 3],
    ['report', 0n, 6.5, 5],
  ]);
  result = 5; // not a BigInt for an i64 result
  await assert.rejects(p.call('run'), {
    name: 'TypeError',
    message: 'host function test::typed must return a BigInt for its i64 result, not number',
  });
  result = 1n;
  pair = [1n, 2];
  await assert.rejects(p.call('run_pair'), { name: 'TypeError', message: /must return a number for its i32 result/ });
  pair = 3;
  assert.throws(() => p.callSync('run_pair'), { name: 'TypeError', message: /must return an array of 2 results/ });
  pair = ['7', undefined];
  assert.equal(p.callSync('run_pair'), null);
  assert.deepEqual(calls.at(-1), ['report', 0n, NaN, 7]);
});

test('a host function can replace a built-in of extism:host/env', async () => {
  const logged = [];
  const p = await createPlugin(wat('log'), {
    logLevel: 'trace',
    functions: {
      'extism:host/env': {
        log_info(ctx, addr) {
          logged.push(ctx.read(addr).text());
        },
      },
    },
    logger: { trace() {}, debug() {}, info: () => assert.fail('replaced'), warn() {}, error() {} },
  });
  await p.call('log_all', 'message');
  assert.deepEqual(logged, ['message']);
});

test('a plugin cannot be called from its own host function', async () => {
  let plugin;
  let inner;
  plugin = await createPlugin(wat('host'), {
    functions: {
      [USER]: {
        hello_world(ctx) {
          inner = plugin.call('call_host', 'again').catch((e) => e);
          assert.throws(() => plugin.callSync('call_host', 'again'), /busy|reentrant/);
          return ctx.store('outer');
        },
      },
    },
  });
  assert.equal((await plugin.call('call_host', 'x')).text(), 'outer');
  assert.equal((await inner).message, 'plugin is not reentrant');
  assert.equal((await inner).code, 'EXTISM_REENTRANT');

  const sync = createPluginSync(wat('host'), {
    functions: {
      [USER]: {
        hello_world(ctx) {
          assert.throws(() => sync.callSync('call_host', 'again'), { message: 'plugin is not reentrant', code: 'EXTISM_REENTRANT' });
          return ctx.store('sync outer');
        },
      },
    },
  });
  assert.equal(sync.callSync('call_host', 'x').text(), 'sync outer');
});

test('a host function may call another plugin, sync or async', async () => {
  const echo = await createPlugin(wat('echo'));
  const p = await createPlugin(wat('host'), {
    functions: {
      [USER]: {
        async hello_world(ctx, addr) {
          const text = ctx.read(addr).text();
          const a = echo.callSync('echo', `${text}-sync`).text();
          const b = (await echo.call('echo', `${text}-async`)).text();
          return ctx.store(`${a},${b}`);
        },
      },
    },
  });
  assert.equal((await p.call('call_host', 'x')).text(), 'x-sync,x-async');
});

test('many concurrent calls with async host functions on many plugins', async () => {
  const functions = {
    [USER]: {
      async hello_world(ctx, addr) {
        const text = ctx.read(addr).text();
        await sleep(Math.random() * 5);
        return ctx.store(text.toUpperCase());
      },
    },
  };
  const plugins = await Promise.all([1, 2, 3, 4].map(() => createPlugin(wat('host'), { functions })));
  const calls = [];
  for (let i = 0; i < 40; i++) calls.push(plugins[i % 4].call('call_host', `call ${i}`).then((o) => o.text()));
  const results = await Promise.all(calls);
  assert.deepEqual(results, calls.map((_, i) => `CALL ${i}`));
});

test('host functions called by an initializer, during creation', async () => {
  const source = Buffer.from(`(module
    (import "test" "init" (func $init (param i32)))
    (func (export "_initialize") (call $init (i32.const 42)))
    (func (export "run") (result i32) (i32.const 0)))`);
  const seen = [];
  const functions = {
    test: {
      async init(ctx, n) {
        await sleep(10);
        seen.push(n);
      },
    },
  };
  const p = await createPlugin(source, { functions });
  assert.equal(await p.call('run'), null);
  assert.deepEqual(seen, [42]);
  // The core reports an initializer's failure with its cause in the text.
  assert.throws(() => createPluginSync(source, { functions }), { code: 'EXTISM_INSTANTIATE', message: /returned a Promise/ });
  const sync = createPluginSync(source, { functions: { test: { init: (ctx, n) => seen.push(n + 1) } } });
  assert.equal(sync.callSync('run'), null);
  assert.deepEqual(seen, [42, 43]);
  await assert.rejects(createPlugin(source, { functions: { test: { init: () => { throw new Error('init failed'); } } } }), {
    message: /init failed/,
  });
});

test('a CallContext kept after its host call reads null and length 0n, as the JS SDK does after reset()', async () => {
  const offsets = [0n, 0n];
  let kept = null;
  const p = await createPlugin(wat('host'), {
    functions: {
      [USER]: {
        hello_world(ctx, addr) {
          kept = ctx;
          offsets[0] = addr;
          offsets[1] = ctx.store('wow okay then');
          return offsets[1];
        },
      },
    },
  });
  assert.equal((await p.call('call_host', 'hello world')).text(), 'wow okay then');
  assert.equal(await p.reset(), true);
  assert.notEqual(offsets[0], 0n);
  assert.notEqual(offsets[1], 0n);
  assert.equal(kept.read(offsets[0]), null);
  assert.equal(kept.read(offsets[1]), null);
  assert.equal(kept.length(offsets[1]), 0n);
  // Plugin memory stays out of reach: writes and vars still throw.
  assert.throws(() => kept.store('x'), /no longer valid/);
  assert.throws(() => kept.alloc(8), /no longer valid/);
  assert.throws(() => kept.getVariable('k'), /no longer valid/);
  assert.throws(() => kept.setError('late'), /no longer valid/);
  // Bad arguments are still TypeErrors.
  assert.throws(() => kept.read('x'), { name: 'TypeError' });
});

test('a host call whose Promise can never settle fails its call once nothing holds it, rather than waiting forever', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const p = await createPlugin(wat('host'), {
    functions: { [USER]: { hello_world: () => new Promise(() => {}) } },
  });
  let settled = false;
  const call = p.call('call_host', 'x');
  call.catch(() => {}).finally(() => (settled = true));
  for (let i = 0; i < 100 && !settled; i++) {
    gc();
    await sleep(10);
  }
  await assert.rejects(call, /host function was dropped without settling/);
});

test('the same CallContext methods serve both call paths, in and after the host call', async () => {
  const seen = [];
  let kept;
  const functions = {
    [USER]: {
      hello_world(ctx, addr) {
        kept = ctx;
        const name = ctx.read(addr);
        ctx.setVariable('greeted', name.bytes());
        const block = ctx.alloc(3);
        seen.push([ctx.length(addr), ctx.length(block), ctx.getVariable('greeted').text(), ctx.timeRemaining()]);
        ctx.deleteVariable('greeted');
        seen.push(ctx.getVariable('greeted'));
        return ctx.store(`Hello, ${name.text()}!`);
      },
    },
  };
  const p = await createPlugin(wat('host'), { functions });
  assert.equal((await p.call('call_host', 'async')).text(), 'Hello, async!');
  assert.throws(() => kept.setVariable('k', 'v'), /no longer valid/);
  assert.equal(kept.timeRemaining(), null);
  assert.equal(p.callSync('call_host', 'sync').text(), 'Hello, sync!');
  assert.throws(() => kept.deleteVariable('k'), /no longer valid/);
  assert.equal(kept.timeRemaining(), null);
  assert.deepEqual(seen, [[5n, 3n, 'async', null], null, [4n, 3n, 'sync', null], null]);
});
