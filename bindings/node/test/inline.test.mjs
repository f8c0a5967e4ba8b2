// Where `call()` runs (docs/node.md, "Where calls run"): short calls of a
// plugin that can wait on nothing in this process run on the JS thread; every
// other call runs on the plugin's thread. A call on the JS thread delivers its
// log lines before `call()` returns, one on the plugin's thread only later:
// that is how these tests tell them apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import createPlugin from '@extism-rs/extism';
import { recorder, wat } from './helpers.mjs';

/** Call `log_all` until a call logs before `call()` returned; how many calls that took, or null. */
async function callsUntilInline(p, lines, tries) {
  for (let i = 1; i <= tries; i++) {
    lines.length = 0;
    const pending = p.call('log_all', `call ${i}`);
    const inline = lines.length > 0;
    assert.equal(await pending, null);
    assert.deepEqual(lines, [['error', `call ${i}`]]);
    if (inline) return i;
  }
  return null;
}

test('short calls move to the JS thread after 4 short runs, and settle as before', async () => {
  const { lines, logger } = recorder();
  const p = await createPlugin(wat('log'), { logger, logLevel: 'error' });
  const n = await callsUntilInline(p, lines, 1000);
  assert.ok(n !== null && n >= 5, `the first 4 calls run on the plugin thread; inline from call ${n}`);
  // Output, errors and the order of calls are those of the plugin thread's path.
  const echo = await createPlugin(wat('echo'));
  for (let i = 0; i < 50; i++) assert.equal((await echo.call('echo', `e${i}`)).text(), `e${i}`);
  await assert.rejects(echo.call('missing'), /function "missing" does not exist/);
  const [a, b] = await Promise.all([echo.call('echo', 'first'), echo.call('echo', 'second')]);
  assert.deepEqual([a.text(), b.text()], ['first', 'second']);
  await p.close();
  await echo.close();
});

test('plugins that could wait on this process never run calls on the JS thread', async () => {
  const { lines, logger } = recorder();
  const opts = { logger, logLevel: 'error' };
  const asyncHost = { 'extism:host/user': { unused: async () => 0 } };
  for (const [what, extra] of [
    ['an async host function', { functions: asyncHost }],
    ['allowedHosts', { allowedHosts: ['127.0.0.1'] }],
    ['runInWorker', { runInWorker: true }],
  ]) {
    const p = await createPlugin(wat('log'), { ...opts, ...extra });
    assert.equal(await callsUntilInline(p, lines, 30), null, what);
    await p.close();
  }
  // Allowed hosts are those of the manifest the core made: its own (either
  // spelling, JSON or TOML) unless an option replaces them.
  const toml = `allowed_hosts = ["127.0.0.1"]\n[[wasm]]\npath = ${JSON.stringify(wat('log'))}\n`;
  for (const [source, extra, inline] of [
    [{ wasm: [{ path: wat('log') }], allowed_hosts: ['127.0.0.1'] }, {}, false],
    [{ wasm: [{ path: wat('log') }], allowedHosts: ['127.0.0.1'] }, {}, false],
    [toml, {}, false],
    [{ wasm: [{ path: wat('log') }], allowed_hosts: ['127.0.0.1'] }, { allowedHosts: [] }, true],
    [toml, { allowedHosts: [] }, true],
  ]) {
    const p = await createPlugin(source, { ...opts, ...extra });
    const n = await callsUntilInline(p, lines, 1000);
    assert.equal(n !== null, inline, `${JSON.stringify(source)} ${JSON.stringify(extra)}`);
    await p.close();
  }
});

test('plain host functions run inline; one that returns a Promise there fails that call once', async () => {
  // The host function knows it runs inline when it runs inside `call()`.
  let insideCall = false;
  let promiseWhenInline = false;
  let promiseAlways = false;
  const functions = {
    'extism:host/user': {
      hello_world(ctx, addr) {
        const text = ctx.read(addr).text();
        if (promiseAlways || (promiseWhenInline && insideCall)) return Promise.resolve(ctx.store(`late ${text}`));
        return ctx.store(`Hello, ${text}!`);
      },
    },
  };
  const p = await createPlugin(wat('host'), { functions });
  const call = (text) => {
    insideCall = true;
    try {
      return p.call('call_host', text);
    } finally {
      insideCall = false;
    }
  };
  // Plain results until calls run inline, then a Promise from the first inline one.
  promiseWhenInline = true;
  let failure = null;
  for (let i = 0; i < 1000 && failure === null; i++) {
    try {
      assert.equal((await call(`n${i}`)).text(), `Hello, n${i}!`);
    } catch (e) {
      failure = e;
    }
  }
  assert.ok(failure !== null, 'a plain host function does not keep calls off the JS thread');
  assert.equal(failure.name, 'TypeError');
  assert.equal(
    failure.message,
    'host function extism:host/user::hello_world returned a Promise while call() ran on the JS thread; declare it `async` or pass runInWorker: true so that calls of this plugin wait for it on their own thread',
  );
  // From now on the plugin's calls run on its thread, where the Promise is awaited.
  promiseAlways = true;
  for (let i = 0; i < 10; i++) assert.equal((await call(`p${i}`)).text(), `late p${i}`);
  await p.close();
});

test('a long export stays on the plugin thread', async () => {
  // log_many: 1100 log messages of 2 KiB, far over 100 µs on any machine.
  const { lines, logger } = recorder();
  const p = await createPlugin(wat('log'), { logger, logLevel: 'info' });
  for (let i = 0; i < 12; i++) {
    lines.length = 0;
    const pending = p.call('log_many', 'y'.repeat(2048));
    assert.equal(lines.length, 0, `call ${i} did not run on the JS thread`);
    await pending;
    assert.equal(lines.length, 1100);
  }
  await p.close();
});

test('large inputs go to the plugin thread', async () => {
  const { lines, logger } = recorder();
  const p = await createPlugin(wat('log'), { logger, logLevel: 'error' });
  assert.ok((await callsUntilInline(p, lines, 1000)) !== null);
  lines.length = 0;
  const pending = p.call('log_all', 'x'.repeat(64 * 1024 + 1));
  assert.equal(lines.length, 0, 'more than 64 KiB of input is not run inline');
  await pending;
  assert.equal(lines.length, 1);
  await p.close();
});
