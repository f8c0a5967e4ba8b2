// Plugin calls: inputs, PluginOutput, errors as the official SDK words them,
// and the other Plugin methods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import createPlugin, { createPluginSync, PluginOutput } from '@extism-rs/extism';
import { pdk, sleep, wat } from './helpers.mjs';

test('inputs: string, number, Uint8Array views, Buffer, ArrayBuffer, none', async () => {
  const p = await createPlugin(wat('echo'));
  const text = async (input) => (await p.call('echo', input))?.text() ?? null;
  assert.equal(await text('héllo'), 'héllo');
  assert.equal(await text(42), '42');
  const bytes = new TextEncoder().encode('xxABCyy');
  assert.equal(await text(new Uint8Array(bytes.buffer, 2, 3)), 'ABC');
  assert.equal(await text(Buffer.from('buf')), 'buf');
  assert.equal(await text(new TextEncoder().encode('ab').buffer), 'ab');
  assert.equal(await text(new DataView(bytes.buffer, 0, 2)), 'xx');
  assert.equal(await text(), null);
  assert.equal(await text(''), null);
  assert.equal(p.callSync('echo', new Uint8Array(bytes.buffer, 5, 2)).text(), 'yy');
});

test('PluginOutput: a read-only DataView with text, json, bytes and arrayBuffer', async () => {
  const p = await createPlugin(pdk('count_vowels'));
  const out = await p.call('count_vowels', 'hello world');
  assert.ok(out instanceof PluginOutput);
  assert.ok(out instanceof DataView);
  assert.equal(out.text(), '{"count":3}');
  assert.equal(out.string(), '{"count":3}');
  assert.deepEqual(out.json(), { count: 3 });
  assert.equal(out.bytes(), out.bytes());
  assert.deepEqual([...out.bytes()], [...Buffer.from('{"count":3}')]);
  assert.equal(out.byteLength, 11);
  assert.equal(out.getUint8(0), '{'.charCodeAt(0));
  assert.equal(out.arrayBuffer(), out.buffer);
  assert.equal(out.arrayBuffer().byteLength, 11);
  for (const method of ['setInt8', 'setUint8', 'setInt16', 'setUint16', 'setInt32', 'setUint32', 'setFloat32', 'setFloat64']) {
    assert.throws(() => out[method](0, 1), { message: 'Cannot set values on output' }, method);
  }
  assert.throws(() => out.setBigUint64(0, 1n), { message: 'Cannot set values on output' });
  assert.throws(() => out.setBigInt64(0, 1n), { message: 'Cannot set values on output' });
  const counter = await createPlugin(wat('vars_config'));
  assert.equal((await counter.call('counter')).getBigUint64(0, true), 1n);
  assert.equal((await counter.call('counter')).getBigUint64(0, true), 2n);
});

test('no output resolves to null', async () => {
  const p = await createPlugin(wat('echo'));
  assert.equal(await p.call('noop'), null);
  assert.equal(await p.call('unit'), null);
  assert.equal(p.callSync('noop'), null);
});

test('errors: plugin errors, return codes, traps, missing and mistyped exports', async () => {
  const p = await createPlugin(wat('errors'));
  await assert.rejects(p.call('fail'), { message: 'Plugin-originated error: this is an error', code: 'EXTISM_PLUGIN', rc: 1 });
  await assert.rejects(p.call('fail_rc0'), { message: 'Plugin-originated error: this is an error', rc: 0 });
  await assert.rejects(p.call('fail_input', 'custom text'), { message: 'Plugin-originated error: custom text', rc: 2 });
  await assert.rejects(p.call('return_7'), { message: 'Plugin-originated error: Error code: 7', rc: 7 });
  await assert.rejects(p.call('trap'), (e) => {
    assert.ok(e instanceof WebAssembly.RuntimeError);
    assert.match(e.message, /unreachable/);
    assert.equal(e.code, 'EXTISM_TRAP');
    return true;
  });
  await assert.rejects(p.call('fail_then_trap'), { message: /^Plugin-originated error: / });
  await assert.rejects(p.call('stack_overflow'), { code: 'EXTISM_TRAP', message: /stack/ });
  await assert.rejects(p.call('nope'), { message: 'Plugin error: function "nope" does not exist', code: 'EXTISM_FUNCTION_NOT_FOUND' });
  assert.throws(() => p.callSync('nope'), { message: 'Plugin error: function "nope" does not exist' });
  assert.throws(() => p.callSync('fail'), { message: 'Plugin-originated error: this is an error' });
  const e = await createPlugin(wat('echo'));
  await assert.rejects(e.call('with_param'), { message: /^Plugin error: /, code: 'EXTISM_FUNCTION_NOT_FOUND' });
  await assert.rejects(e.call('two_results'), { message: /^Plugin error: / });
  // The plugin stays usable after every failure.
  assert.equal((await e.call('echo', 'still')).text(), 'still');
  const as = await createPlugin(pdk('fail'));
  await assert.rejects(as.call('fail', 'x'), { message: 'Plugin-originated error: something bad happened: x', rc: 1 });
  await assert.rejects(as.call('fail_abort', 'y'), { message: /^Plugin-originated error: aborted: y/ });
});

test('bad arguments reject with TypeError', async () => {
  const p = await createPlugin(wat('echo'));
  await assert.rejects(p.call(1), { name: 'TypeError', message: /function name must be a string/ });
  await assert.rejects(p.call('echo', { a: 1 }), { name: 'TypeError', message: /input must be a string, a number or a Uint8Array/ });
  await assert.rejects(p.call('echo', true), { name: 'TypeError' });
  await assert.rejects(p.functionExists(null), { name: 'TypeError' });
  assert.throws(() => p.callSync(undefined), { name: 'TypeError' });
  assert.throws(() => p.callSync('echo', Symbol('x')), { name: 'TypeError' });
  assert.throws(() => p.functionExistsSync(3), { name: 'TypeError' });
});

test('functionExists follows the core (callable plugin functions only)', async () => {
  const p = await createPlugin(wat('echo'));
  assert.equal(await p.functionExists('echo'), true);
  assert.equal(await p.functionExists('unit'), true);
  assert.equal(await p.functionExists('nope'), false);
  assert.equal(await p.functionExists('with_param'), false);
  assert.equal(await p.functionExists('memory'), false);
  assert.equal(p.functionExistsSync('echo'), true);
  assert.equal(p.functionExistsSync('two_results'), false);
});

test('getExports, getImports, getInstance', async () => {
  const p = await createPlugin(pdk('count_vowels'));
  const exports = await p.getExports();
  assert.deepEqual(
    exports.find((e) => e.name === 'count_vowels'),
    { name: 'count_vowels', kind: 'function' },
  );
  assert.deepEqual(
    exports.find((e) => e.name === 'memory'),
    { name: 'memory', kind: 'memory' },
  );
  const imports = await p.getImports();
  assert.ok(imports.length > 0);
  for (const i of imports) {
    assert.equal(i.module, 'extism:host/env');
    assert.equal(i.kind, 'function');
  }
  assert.ok(imports.some((i) => i.name === 'input_length'));
  const h = await createPlugin(wat('host'), { functions: { 'extism:host/user': { hello_world: () => 0n } } });
  assert.ok((await h.getImports()).some((i) => i.module === 'extism:host/user' && i.name === 'hello_world'));
  await assert.rejects(p.getInstance(), { message: /getInstance\(\) is not supported by the native addon/ });
});

test('calls on one plugin run one at a time, in order', async () => {
  const p = await createPlugin(wat('limits'));
  const order = [];
  const input = 'x'.repeat(200); // spin: 200 million iterations
  const calls = [1, 2, 3].map((n) =>
    p.call('spin', n === 2 ? 'x' : input).then(() => {
      order.push(n);
    }),
  );
  await sleep(20);
  assert.equal(p.isActive(), true);
  await Promise.all(calls);
  assert.deepEqual(order, [1, 2, 3]);
  assert.equal(p.isActive(), false);
});

test('different plugins run in parallel on their own threads', async () => {
  const a = await createPlugin(wat('limits'), { timeoutMs: 300 });
  const b = await createPlugin(wat('limits'), { timeoutMs: 300 });
  const started = Date.now();
  const results = await Promise.allSettled([a.call('infinite_loop'), b.call('infinite_loop')]);
  const elapsed = Date.now() - started;
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  // One after the other they would take 600 ms at least.
  assert.ok(elapsed < 590, `two 300 ms timeouts took ${elapsed} ms`);
});

test('callSync refuses to run while asynchronous work is pending', async () => {
  const p = await createPlugin(wat('limits'));
  const pending = p.call('spin', 'x'.repeat(50));
  assert.throws(() => p.callSync('spin', ''), { message: /busy with asynchronous work/ });
  assert.throws(() => p.functionExistsSync('spin'), { message: /busy/ });
  assert.equal(await pending, null);
  assert.equal(p.callSync('spin', ''), null);
});

test('reset frees memory and keeps vars; false while a call is pending', async () => {
  const p = await createPlugin(wat('vars_config'));
  await p.call('counter');
  assert.equal(await p.reset(), true);
  assert.equal((await p.call('counter')).getBigUint64(0, true), 2n);
  const lp = await createPlugin(wat('limits'), { timeoutMs: 200 });
  const running = lp.call('infinite_loop');
  assert.equal(await lp.reset(), false);
  await assert.rejects(running, { code: 'EXTISM_TIMEOUT' });
  assert.equal(await lp.reset(), true);
});

test('close: queued calls finish first, later calls reject', async () => {
  const p = await createPlugin(wat('echo'));
  const before = p.call('echo', 'queued');
  const closed = p.close();
  assert.equal((await before).text(), 'queued');
  await closed;
  await assert.rejects(p.call('echo', 'x'), { message: 'plugin is closed' });
  assert.throws(() => p.callSync('echo', 'x'), { message: 'plugin is closed' });
  await assert.rejects(p.reset(), { message: 'plugin is closed' });
  await assert.rejects(p.getExports(), { message: 'plugin is closed' });
  assert.equal(p.isActive(), false);
  p.cancel();
  await p.close();
  const idle = createPluginSync(wat('echo'));
  await idle.close();
  assert.throws(() => idle.callSync('echo'), { message: 'plugin is closed' });
});

test('_start: the next call runs on a fresh instance', async () => {
  const p = await createPlugin(wat('start_rebuild'));
  await assert.rejects(p.call('bump'), { rc: 1 });
  await assert.rejects(p.call('bump'), { rc: 2 });
  assert.equal(await p.call('_start'), null);
  await assert.rejects(p.call('bump'), { rc: 1 });
});

test("the addon's fast functions refuse anything but a plugin handle", async () => {
  const { createRequire } = await import('node:module');
  const native = createRequire(import.meta.url)('../lib/native.js');
  const fast = native.fastFunctions();
  for (const bad of [{}, 1, null, undefined, 'handle', new Uint8Array(8)]) {
    assert.throws(() => fast.callSync(bad, 'echo', 'x', undefined), { message: 'not a plugin handle' });
    assert.throws(() => fast.hostRead(bad, 1, 1n), { message: 'not a plugin handle' });
  }
});

test("the addon's functions that settle a host call refuse anything but a host call handle", async () => {
  const { createRequire } = await import('node:module');
  const fast = createRequire(import.meta.url)('../lib/native.js').fastFunctions();
  for (const bad of [{}, 1, null, undefined, 'handle', new Uint8Array(8)]) {
    assert.throws(() => fast.hostResolve(bad, []), { message: 'not a host call handle' });
    assert.throws(() => fast.hostReject(bad, 'no'), { message: 'not a host call handle' });
  }
});
