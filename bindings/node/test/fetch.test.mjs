// The `fetch` option (as in the JS SDK): the plugin's HTTP requests go to a
// JS fetch, after the core's allowedHosts check, with the core's redirect
// handling and response limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import createPlugin, { createPluginSync } from '@extism-rs/extism';
import { le, wat } from './helpers.mjs';

const request = (url, extra = {}) => JSON.stringify({ url, ...extra });

/** A fetch mock recording its calls; `answer(url, init)` makes the Response. */
function mock(answer) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    return answer(url, init);
  };
  return { calls, fetch };
}

test('a fetch mock serves the plugin, and allowedHosts is checked before it is called', async () => {
  const { calls, fetch } = mock(
    (url) => new Response(`mocked ${url}`, { status: 201, headers: { 'X-Mock': 'yes' } }),
  );
  const p = await createPlugin(wat('http'), {
    fetch,
    allowedHosts: ['*.example.com'],
    allowHttpResponseHeaders: true,
  });
  const out = await p.call('http_post', request('https://api.example.com/items', { method: 'post', headers: { a: 'b' } }));
  assert.equal(out.text(), 'mocked https://api.example.com/items');
  assert.equal(le(await p.call('status')), 201n);
  assert.equal((await p.call('headers')).json()['x-mock'], 'yes');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, 'https://api.example.com/items');
  assert.equal(calls[0].init.method, 'POST');
  assert.deepEqual(calls[0].init.headers, { a: 'b' });
  assert.equal(Buffer.from(calls[0].init.body).toString(), 'ping');
  // The runtime follows redirects itself, checking every hop.
  assert.equal(calls[0].init.redirect, 'manual');

  // Refused by allowedHosts: the mock is never called.
  await assert.rejects(p.call('http', request('https://evil.test/steal')), {
    message: 'HTTP request to https://evil.test/steal is not allowed',
    code: 'EXTISM_HOST_FUNCTION',
  });
  const none = await createPlugin(wat('http'), { fetch });
  await assert.rejects(none.call('http', request('https://api.example.com/items')), /is not allowed/);
  assert.equal(calls.length, 1);

  // As in the JS SDK, a GET sends no body.
  await p.call('http', request('https://api.example.com/get'));
  assert.equal(calls[1].init.body, undefined);
  assert.equal(calls[1].init.method, 'GET');
  await p.close();
});

test('redirects answered by fetch are followed by the runtime, hop by hop', async () => {
  const { calls, fetch } = mock((url) => {
    const { pathname } = new URL(url);
    if (pathname === '/in') return new Response(null, { status: 302, headers: { Location: '/final' } });
    if (pathname === '/out') return new Response(null, { status: 301, headers: { Location: 'https://evil.test/x' } });
    return new Response('arrived');
  });
  const p = await createPlugin(wat('http'), { fetch, allowedHosts: ['a.example.com'] });
  assert.equal((await p.call('http', request('https://a.example.com/in'))).text(), 'arrived');
  await assert.rejects(p.call('http', request('https://a.example.com/out')), {
    message: 'HTTP request to https://evil.test/x is not allowed',
  });
  assert.deepEqual(
    calls.map((c) => c.url),
    ['https://a.example.com/in', 'https://a.example.com/final', 'https://a.example.com/out'],
  );
});

test('the response limit applies to fetch, and a failing fetch rejects the call with its error', async () => {
  const failure = new TypeError('fetch failed (mock)');
  const fetch = async (url) => {
    if (url.endsWith('/down')) throw failure;
    return new Response(url.endsWith('/big') ? 'x'.repeat(5000) : 'small');
  };
  const p = await createPlugin(wat('http'), { fetch, allowedHosts: ['*'], memory: { maxHttpResponseBytes: 1000 } });
  assert.equal((await p.call('http', request('http://x.test/small'))).text(), 'small');
  await assert.rejects(p.call('http', request('http://x.test/big')), {
    message: 'HTTP response exceeds the configured maximum number of bytes: 1000',
  });
  await assert.rejects(p.call('http', request('http://x.test/down')), (e) => e === failure);
  // Plain response-like objects work too.
  const plain = await createPlugin(wat('http'), {
    allowedHosts: ['*'],
    fetch: async () => ({ status: 202, headers: { a: '1' }, arrayBuffer: async () => new TextEncoder().encode('plain').buffer }),
  });
  assert.equal((await plain.call('http', request('http://x.test/'))).text(), 'plain');
  assert.equal(le(await plain.call('status')), 202n);
});

test('a fetch gets the time left before the timeout', async () => {
  let signal = null;
  const fetch = (url, init) => {
    signal = init.signal;
    return new Promise((resolve, reject) => {
      init.signal.addEventListener('abort', () => reject(init.signal.reason));
    });
  };
  const p = await createPlugin(wat('http'), { fetch, allowedHosts: ['*'], timeoutMs: 300 });
  const started = Date.now();
  await assert.rejects(p.call('http', request('http://slow.test/')), { code: 'EXTISM_TIMEOUT' });
  assert.ok(signal instanceof AbortSignal);
  assert.ok(Date.now() - started < 5000);
});

test('a replaced globalThis.fetch is used, as the JS SDK defaults opts.fetch to it', async () => {
  const original = globalThis.fetch;
  const { calls, fetch } = mock(() => new Response('from the global mock'));
  globalThis.fetch = fetch;
  let p;
  try {
    p = await createPlugin(wat('http'), { allowedHosts: ['*'] });
  } finally {
    globalThis.fetch = original;
  }
  assert.equal((await p.call('http', request('http://g.test/'))).text(), 'from the global mock');
  assert.equal(calls.length, 1);
});

test('Node\'s own fetch given explicitly is served by the runtime; sync calls cannot use a custom fetch', async () => {
  const server = http.createServer((req, res) => res.end('from the server'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address();
    const p = await createPlugin(wat('http'), { fetch: globalThis.fetch, allowedHosts: ['127.0.0.1'] });
    assert.equal((await p.call('http', request(`http://127.0.0.1:${port}/`))).text(), 'from the server');
    // Real fetch with a real redirect through the JS path.
    const { fetch } = { fetch: (url, init) => globalThis.fetch(url, init) };
    const viaJs = await createPlugin(wat('http'), { fetch, allowedHosts: ['127.0.0.1'] });
    assert.equal((await viaJs.call('http', request(`http://127.0.0.1:${port}/`))).text(), 'from the server');
  } finally {
    server.close();
  }
  const sync = createPluginSync(wat('http'), { fetch: async () => new Response('never'), allowedHosts: ['*'] });
  assert.throws(() => sync.callSync('http', request('http://x.test/')), /custom fetch cannot serve HTTP requests of callSync/);
});
