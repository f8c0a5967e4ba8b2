// WASI (with allowedPaths in the JS SDK's guest → host direction) and plugin
// HTTP (allowedHosts, response limits and headers) against a local server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import createPlugin, { createPluginSync } from '@extism-rs/extism';
import { le, wat } from './helpers.mjs';

test('WASI needs useWasi', async () => {
  await assert.rejects(createPlugin(wat('wasi')), /cannot resolve import "wasi_snapshot_preview1" "fd_write"/);
  const p = await createPlugin(wat('wasi'), { useWasi: true });
  assert.equal((await p.call('hello')).text(), 'ok');
  // proc_exit: a non-zero code fails with it as the return code; zero succeeds.
  await assert.rejects(p.call('exit_3'), { rc: 3 });
  assert.equal(await p.call('exit_0'), null);
  assert.equal(createPluginSync(wat('wasi'), { useWasi: true }).callSync('hello').text(), 'ok');
});

test('allowedPaths maps guest paths to host paths', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'extism-node-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = await createPlugin(wat('wasi'), { useWasi: true, allowedPaths: { '/data': dir } });
  assert.equal((await p.call('preopen')).text(), '/data');
  const ro = await createPlugin(wat('wasi'), { useWasi: true, allowedPaths: { '/ro': `ro:${dir}` } });
  assert.equal((await ro.call('preopen')).text(), '/ro');
  // A manifest's snake_case allowed_paths keeps the core's host → guest direction.
  const core = await createPlugin({ wasm: [{ path: wat('wasi') }], allowed_paths: { [dir]: '/core' } }, { useWasi: true });
  assert.equal((await core.call('preopen')).text(), '/core');
  const camel = await createPlugin({ wasm: [{ path: wat('wasi') }], allowedPaths: { '/camel': dir } }, { useWasi: true });
  assert.equal((await camel.call('preopen')).text(), '/camel');
  // Both spellings: camelCase wins, and the option over both.
  const both = { wasm: [{ path: wat('wasi') }], allowed_paths: { [dir]: '/core' }, allowedPaths: { '/camel': dir } };
  assert.equal((await (await createPlugin(both, { useWasi: true })).call('preopen')).text(), '/camel');
  const option = await createPlugin(both, { useWasi: true, allowedPaths: { '/option': dir } });
  assert.equal((await option.call('preopen')).text(), '/option');
  const bare = await createPlugin(wat('wasi'), { useWasi: true });
  await assert.rejects(bare.call('preopen'), { code: 'EXTISM_TRAP' });
  await assert.rejects(createPlugin(wat('wasi'), { useWasi: true, allowedPaths: { '/x': path.join(dir, 'missing') } }), /No such file or directory/);
  // The core's check (the manifest can map a host path once), as a TypeError.
  assert.throws(() => createPluginSync(wat('wasi'), { allowedPaths: { '/a': dir, '/b': dir } }), {
    name: 'TypeError',
    message: `allowedPaths maps both "/a" and "/b" to the host path "${dir}"`,
    code: 'EXTISM_INVALID_ARGUMENT',
  });
  await assert.rejects(createPlugin({ wasm: [{ path: wat('wasi') }], allowedPaths: { '/b': dir, '/a': dir } }), {
    name: 'TypeError',
    message: `allowedPaths maps both "/b" and "/a" to the host path "${dir}"`,
  });
});

async function serve() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/hello') {
        res.setHeader('X-Test', 'two');
        res.end('hello');
      } else if (req.url === '/big') res.end('x'.repeat(2000));
      else if (req.url === '/echo') res.end(Buffer.concat(chunks));
      else {
        res.statusCode = 404;
        res.end('nope');
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port };
}

test('HTTP: allowedHosts, status, limits and headers, served by this process while the plugin waits', async () => {
  const { server, port } = await serve();
  try {
    const request = (p) => JSON.stringify({ url: `http://127.0.0.1:${port}${p}` });
    const p = await createPlugin(wat('http'), { allowedHosts: ['127.0.0.*'] });
    assert.equal((await p.call('http', request('/hello'))).text(), 'hello');
    assert.equal(le(await p.call('status')), 200n);
    assert.equal((await p.call('http', request('/missing'))).text(), 'nope');
    assert.equal(le(await p.call('status')), 404n);
    assert.equal((await p.call('http_post', request('/echo'))).text(), 'ping');
    assert.equal(await p.call('headers'), null);

    const manifest = await createPlugin({ wasm: [{ path: wat('http') }], allowed_hosts: ['127.0.0.1'] });
    assert.equal((await manifest.call('http', request('/hello'))).text(), 'hello');

    const denied = await createPlugin(wat('http'));
    await assert.rejects(denied.call('http', request('/hello')), {
      message: `HTTP request to http://127.0.0.1:${port}/hello is not allowed`,
    });

    const small = await createPlugin(wat('http'), { allowedHosts: ['127.0.0.1'], memory: { maxHttpResponseBytes: 1000 } });
    await assert.rejects(small.call('http', request('/big')));
    assert.equal((await small.call('http', request('/hello'))).text(), 'hello');

    const headers = await createPlugin(wat('http'), { allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    assert.deepEqual((await headers.call('headers')).json(), {});
    await headers.call('http', request('/hello'));
    const seen = (await headers.call('headers')).json();
    assert.equal(seen['x-test'], 'two');
    assert.equal(seen['content-length'], '5');
  } finally {
    server.close();
  }
});

test('enableWasiOutput sends WASI stdout and stderr to the process', async () => {
  const { spawnSync } = await import('node:child_process');
  const run = (options, env = {}) => {
    const script = `
      import { createPluginSync } from '@extism-rs/extism';
      const p = createPluginSync(${JSON.stringify(wat('wasi'))}, { useWasi: true, ...${JSON.stringify(options)} });
      process.stdout.write('[' + p.callSync('hello').text() + ']');
      p.callSync('complain');`;
    const childEnv = { ...process.env };
    delete childEnv.EXTISM_ENABLE_WASI_OUTPUT;
    Object.assign(childEnv, env);
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: childEnv });
    assert.equal(child.status, 0, child.stderr);
    return [child.stdout, child.stderr];
  };
  assert.deepEqual(run({ enableWasiOutput: true }), ['hello\n[ok]', 'oops\n']);
  assert.deepEqual(run({ enableWasiOutput: false }), ['[ok]', '']);
  assert.deepEqual(run({}), ['[ok]', '']);
  // Unset, the environment variable decides; false wins over it.
  assert.deepEqual(run({}, { EXTISM_ENABLE_WASI_OUTPUT: '1' }), ['hello\n[ok]', 'oops\n']);
  assert.deepEqual(run({ enableWasiOutput: false }, { EXTISM_ENABLE_WASI_OUTPUT: '1' }), ['[ok]', '']);
});
