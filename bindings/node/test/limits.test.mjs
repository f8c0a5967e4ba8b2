// Timeouts, cancel, fuel and memory limits: each rejects with an error that
// says why, the plugin stays usable, and the JS thread is never blocked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import createPlugin, { createPluginSync } from '@extism-rs/extism';
import { le, pdk, sleep, wat } from './helpers.mjs';

test('the event loop keeps serving while infinite_loop runs until its timeout', async () => {
  const p = await createPlugin(wat('limits'), { timeoutMs: 400 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const started = Date.now();
  await assert.rejects(p.call('infinite_loop'), (e) => {
    assert.equal(e.message, 'EXTISM: call canceled due to timeout');
    assert.match(e.message, /timeout/);
    assert.equal(e.code, 'EXTISM_TIMEOUT');
    return true;
  });
  clearInterval(timer);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 380 && elapsed < 3000, `elapsed ${elapsed} ms`);
  assert.ok(ticks >= 20, `only ${ticks} interval ticks in ${elapsed} ms`);
  // Still usable, and the next call gets its own full timeout.
  assert.equal(await p.call('spin', ''), null);
  await assert.rejects(p.call('infinite_loop'), { code: 'EXTISM_TIMEOUT' });
});

test('timeouts: the option, the manifest (JSON and object), the sync path, the PDK', async () => {
  const manifests = [
    { wasm: [{ path: wat('limits') }], timeout_ms: 100 },
    { wasm: [{ path: wat('limits') }], timeoutMs: 100 },
    JSON.stringify({ wasm: [{ path: wat('limits') }], timeout_ms: 100 }),
  ];
  for (const m of manifests) {
    const p = await createPlugin(m);
    await assert.rejects(p.call('infinite_loop'), { code: 'EXTISM_TIMEOUT' });
  }
  // The option takes precedence over the manifest.
  const p = await createPlugin({ ...manifests[0], timeout_ms: 5000 }, { timeoutMs: 1 });
  const started = Date.now();
  await assert.rejects(p.call('infinite_loop'), { code: 'EXTISM_TIMEOUT' });
  assert.ok(Date.now() - started < 2500);
  const sync = createPluginSync(wat('limits'), { timeoutMs: 100 });
  assert.throws(() => sync.callSync('infinite_loop'), { message: 'EXTISM: call canceled due to timeout' });
  const as = await createPlugin(pdk('long_loop'), { timeoutMs: 100 });
  await assert.rejects(as.call('spin'), { code: 'EXTISM_TIMEOUT' });
  assert.equal((await as.call('spin_n', '10')).text(), '55');
});

test('cancel stops the running call and is a no-op when idle', async () => {
  const p = await createPlugin(wat('limits'));
  p.cancel(); // idle: does nothing, the next call is unaffected
  assert.equal(await p.call('spin', 'x'), null);
  const running = p.call('infinite_loop');
  await sleep(50);
  assert.equal(p.isActive(), true);
  p.cancel();
  await assert.rejects(running, { code: 'EXTISM_TIMEOUT', message: /timeout/ });
  assert.equal(p.isActive(), false);
  assert.equal(await p.call('spin', 'x'), null);
  const as = await createPlugin(pdk('long_loop'));
  const spin = as.call('spin');
  setTimeout(() => as.cancel(), 30);
  await assert.rejects(spin, { code: 'EXTISM_TIMEOUT' });
  assert.equal((await as.call('spin_n', '100000000')).text(), '5000000050000000');
});

test('cancel only touches its own plugin', async () => {
  const a = await createPlugin(wat('limits'));
  const b = await createPlugin(wat('limits'), { timeoutMs: 300 });
  const ra = a.call('infinite_loop');
  const rb = b.call('infinite_loop');
  await sleep(30);
  a.cancel();
  await assert.rejects(ra, { code: 'EXTISM_TIMEOUT' });
  assert.equal(b.isActive(), true);
  await assert.rejects(rb, { code: 'EXTISM_TIMEOUT' });
});

test('fuel: a budget per call, BigInt or number', async () => {
  for (const fuelLimit of [100_000, 100_000n]) {
    const p = await createPlugin(wat('limits'), { fuelLimit });
    await assert.rejects(p.call('infinite_loop'), { message: 'plugin ran out of fuel', code: 'EXTISM_OUT_OF_FUEL' });
    // Refilled for every call.
    assert.equal(await p.call('spin', ''), null);
    await assert.rejects(p.call('spin', 'x'.repeat(10)), { code: 'EXTISM_OUT_OF_FUEL' });
  }
  const sync = createPluginSync(wat('limits'), { fuelLimit: 1000 });
  assert.throws(() => sync.callSync('infinite_loop'), { message: 'plugin ran out of fuel' });
  const plenty = await createPlugin(pdk('count_vowels'), { fuelLimit: 10_000_000 });
  assert.deepEqual((await plenty.call('count_vowels', 'aeiou')).json(), { count: 5 });
});

test('a manifest with both spellings: the camelCase value wins, an option wins over both', async () => {
  const loop = (fields, opts) => createPlugin({ wasm: [{ path: wat('limits') }], ...fields }, opts);
  for (const p of [
    await loop({ timeout_ms: 60_000, timeoutMs: 100 }),
    await loop({ timeout_ms: 60_000, timeoutMs: 60_000n }, { timeoutMs: 100 }),
    await loop({ timeout_ms: 100n }),
  ]) {
    const started = Date.now();
    await assert.rejects(p.call('infinite_loop'), { code: 'EXTISM_TIMEOUT' });
    assert.ok(Date.now() - started < 10_000);
  }
  const vars = (memory, opts) => createPlugin({ wasm: [{ path: wat('vars_config') }], memory }, opts);
  const disabled = { message: 'Vars are disabled by this host' };
  assert.equal(await (await vars({ max_var_bytes: 0, maxVarBytes: 1000 })).call('set_var', 'x'), null);
  await assert.rejects((await vars({ max_var_bytes: 1000, maxVarBytes: 1000 }, { memory: { maxVarBytes: 0 } })).call('set_var', 'x'), disabled);
  await assert.rejects((await vars({ max_var_bytes: 1000, maxVarBytes: 0 })).call('set_var', 'x'), disabled);
  // A camelCase value is read as the option of that name is.
  await assert.rejects(loop({ timeoutMs: -1 }), { name: 'TypeError', message: 'timeoutMs must be a non-negative number, not -1' });
  await assert.rejects(vars({ maxVarBytes: 'x' }), { name: 'TypeError', message: /memory.maxVarBytes/ });
  // Snake_case values are the core's to judge.
  await assert.rejects(loop({ timeout_ms: -1 }), { message: 'Unknown manifest format', code: 'EXTISM_MANIFEST' });
});

test('memory: maxPages from the option or the manifest', async () => {
  for (const [source, opts] of [
    [wat('limits'), { memory: { maxPages: 4 } }],
    [{ wasm: [{ path: wat('limits') }], memory: { max_pages: 4 } }, {}],
    [{ wasm: [{ path: wat('limits') }], memory: { maxPages: 4 } }, {}],
  ]) {
    const p = await createPlugin(source, opts);
    await assert.rejects(p.call('grow_forever'), { message: 'oom', code: 'EXTISM_OUT_OF_MEMORY' });
    await assert.rejects(p.call('alloc_forever'), { message: 'oom' });
  }
  const free = await createPlugin(wat('limits'));
  const pages = le(await free.call('grow_forever'));
  assert.ok(pages > 4n);
});

test('memory: maxVarBytes', async () => {
  const p = await createPlugin(wat('vars_config'), { memory: { maxVarBytes: 100 } });
  assert.equal(await p.call('set_var', new Uint8Array(40).fill(7)), null);
  // The JS SDK's text, with the bytes counted as libextism counts them: for
  // the var being set (60 bytes) and the one already there (40), 48 bytes of
  // overhead, the key ("big") and the value each.
  await assert.rejects(p.call('set_var', new Uint8Array(60).fill(7)), {
    message: 'var memory limit exceeded: 202 bytes requested, 100 allowed',
    code: 'EXTISM_VAR_LIMIT',
  });
  assert.deepEqual([...(await p.call('get_var')).bytes()], new Array(40).fill(7));
  const off = await createPlugin(wat('vars_config'), { memory: { maxVarBytes: 0 } });
  await assert.rejects(off.call('set_var', 'x'), { message: 'Vars are disabled by this host' });
});

test('fuelConsumed: the fuel the last call used', async () => {
  const p = await createPlugin(wat('limits'), { fuelLimit: 100_000_000 });
  assert.equal(p.fuelConsumed(), null, 'no call yet');
  await p.call('spin', '');
  const idle = p.fuelConsumed();
  await p.call('spin', 'x');
  const one = p.fuelConsumed();
  assert.equal(typeof one, 'bigint');
  assert.ok(idle < 1000n && one > 1_000_000n, `${idle} ${one}`);
  const pending = p.call('spin', 'x');
  assert.throws(() => p.fuelConsumed(), /fuelConsumed: the plugin is busy/);
  await pending;
  const sync = createPluginSync(wat('limits'), { fuelLimit: 100_000_000 });
  sync.callSync('spin', 'x');
  assert.ok(sync.fuelConsumed() > 1_000_000n);
  const free = await createPlugin(wat('limits'));
  await free.call('spin', '');
  assert.equal(free.fuelConsumed(), null, 'no fuel limit');
});

test('CallContext.timeRemaining in sync and async host calls', async () => {
  const seen = [];
  const functions = {
    'extism:host/user': {
      hello_world(ctx, ptr) {
        seen.push(ctx.timeRemaining());
        return ptr;
      },
    },
  };
  const manifest = (extra) => ({ wasm: [{ path: wat('host') }], ...extra });
  const timed = await createPlugin(manifest({ timeout_ms: 5000 }), { functions });
  await timed.call('call_host', 'x');
  timed.callSync('call_host', 'x');
  const untimed = await createPlugin(manifest({}), { functions });
  await untimed.call('call_host', 'x');
  untimed.callSync('call_host', 'x');
  for (const left of seen.slice(0, 2)) assert.ok(left > 4000 && left <= 5000, `${left}`);
  assert.deepEqual(seen.slice(2), [null, null]);
});
