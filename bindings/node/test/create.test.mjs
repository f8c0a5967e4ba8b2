// createPlugin / createPluginSync: every kind of source, and the options that
// become the manifest and the builder settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import createPlugin, { createPluginSync, newPlugin } from '@extism-rs/extism';
import { pdk, wat, watText } from './helpers.mjs';

const echo = async (plugin, input = 'hi') => (await plugin.call('echo', input)).text();

test('a manifest object with a path', async () => {
  const p = await createPlugin({ wasm: [{ path: wat('echo') }] });
  assert.equal(await echo(p), 'hi');
  await p.close();
});

test('a manifest object with data as Uint8Array, Buffer, ArrayBuffer and base64 text', async () => {
  const bytes = readFileSync(pdk('echo'));
  for (const data of [new Uint8Array(bytes), bytes, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), bytes.toString('base64')]) {
    const p = await createPlugin({ wasm: [{ data }] });
    assert.equal(await echo(p), 'hi');
  }
});

test('a data view honours its offset and length', async () => {
  const text = Buffer.from(`garbage${watText('echo')}trailing`);
  const view = new Uint8Array(text.buffer, text.byteOffset + 7, text.length - 15);
  const p = await createPlugin({ wasm: [{ data: view }] });
  assert.equal(await echo(p), 'hi');
});

test('a JSON string, a path string, a file URL string and a URL', async () => {
  const sources = [
    `  ${JSON.stringify({ wasm: [{ path: wat('echo') }] })}`,
    wat('echo'),
    pathToFileURL(wat('echo')).href,
    pathToFileURL(wat('echo')),
    { wasm: [{ path: pathToFileURL(wat('echo')) }] },
    { wasm: [{ url: pathToFileURL(wat('echo')) }] },
  ];
  for (const source of sources) {
    const p = await createPlugin(source);
    assert.equal(await echo(p), 'hi', String(source));
  }
});

test('a string is what the core classifies it as: WAT, TOML manifest text, URL or path', async () => {
  // WAT text (a comment first, or `(module`) is the module itself.
  for (const source of [watText('echo'), '(module (func (export "run")))']) {
    const p = await createPlugin(source);
    assert.equal(await p.functionExists(source.startsWith('(module') ? 'run' : 'echo'), true);
    assert.equal(createPluginSync(source).functionExistsSync('echo'), !source.startsWith('(module'));
  }
  assert.equal(await echo(await createPlugin(watText('echo'))), 'hi');
  // TOML manifest text goes to the core as it is; options still take precedence.
  const toml = `timeout_ms = 5000\n[[wasm]]\npath = ${JSON.stringify(wat('vars_config'))}\n[config]\nkey = "toml"\n`;
  const configOf = async (p) => (await p.call('config', 'key')).text();
  assert.equal(await configOf(await createPlugin(toml)), 'toml');
  assert.equal(await configOf(await createPlugin(toml, { config: { key: 'option' } })), 'option');
  assert.equal(createPluginSync(toml).callSync('config', 'key').text(), 'toml');
  // A URL string is fetched (here: nothing listens on port 9), a path read.
  await assert.rejects(createPlugin('http://127.0.0.1:9/plugin.wasm'), { code: 'EXTISM_MANIFEST' });
  assert.throws(() => createPluginSync('relative/missing.wasm'), {
    message: 'Unable to load Wasm file "relative/missing.wasm": entity not found',
  });
  // JSON that does not parse is the JS SDK's SyntaxError.
  await assert.rejects(createPlugin('{"wasm": ['), SyntaxError);
});

test('bytes directly: ArrayBuffer, Uint8Array, Buffer (wasm binary or WAT text)', async () => {
  const wasm = readFileSync(pdk('echo'));
  const sources = [new Uint8Array(wasm).buffer, new Uint8Array(wasm), wasm, Buffer.from(watText('echo'))];
  for (const source of sources) {
    const p = await createPlugin(source);
    assert.equal(await echo(p), 'hi');
  }
});

test('a Promise of a source, a fetch Response, and response wasm entries', async () => {
  const wasm = readFileSync(pdk('echo'));
  let p = await createPlugin(Promise.resolve(wat('echo')));
  assert.equal(await echo(p), 'hi');
  p = await createPlugin(new Response(wasm, { headers: { 'content-type': 'application/wasm' } }));
  assert.equal(await echo(p), 'hi');
  const json = JSON.stringify({ wasm: [{ path: wat('echo') }] });
  p = await createPlugin(new Response(json, { headers: { 'content-type': 'application/json' } }));
  assert.equal(await echo(p), 'hi');
  p = await createPlugin({ wasm: [{ response: new Response(wasm) }] });
  assert.equal(await echo(p), 'hi');
  await assert.rejects(createPlugin(new Response('x', { headers: { 'content-type': 'text/plain' } })), {
    name: 'TypeError',
    message: /unknown content-type "text\/plain"/,
  });
});

test('newPlugin is createPlugin', () => {
  assert.equal(newPlugin, createPlugin);
});

test('createPluginSync', () => {
  const p = createPluginSync(wat('echo'));
  assert.equal(p.callSync('echo', 'sync').text(), 'sync');
  assert.throws(() => createPluginSync(Promise.resolve(wat('echo'))), { name: 'TypeError', message: /Promise source/ });
  assert.throws(() => createPluginSync(wat('missing_file')), /Unable to load Wasm file/);
});

test('the official manifest shape errors', async () => {
  await assert.rejects(createPlugin({}), { name: 'TypeError', message: 'Expected "wasm" key in manifest' });
  await assert.rejects(createPlugin({ wasm: {} }), { name: 'TypeError', message: 'Expected "manifest.wasm" to be array' });
  await assert.rejects(createPlugin({ wasm: [{ path: wat('echo') }, { nope: 1 }] }), {
    name: 'TypeError',
    message: 'Expected every item in "manifest.wasm" to include either a "data", "url", or "path" key; got bad item at index 1',
  });
  await assert.rejects(createPlugin(42), { name: 'TypeError', message: /Expected a manifest/ });
  await assert.rejects(createPlugin(null), { name: 'TypeError' });
  await assert.rejects(createPlugin({ wasm: [{ module: new WebAssembly.Module(readFileSync(pdk('echo'))) }] }), {
    name: 'TypeError',
    message: /WebAssembly.Module sources are not supported/,
  });
  await assert.rejects(createPlugin({ wasm: [{ data: 12 }] }), { name: 'TypeError', message: /data/ });
});

test('core errors: a missing file, bad wasm, an empty manifest, a hash mismatch', async () => {
  await assert.rejects(createPlugin('/nonexistent/plugin.wasm'), {
    message: 'Unable to load Wasm file "/nonexistent/plugin.wasm": entity not found',
    code: 'EXTISM_MANIFEST',
  });
  await assert.rejects(createPlugin(new Uint8Array([0, 97, 115, 109, 9, 9])), { code: 'EXTISM_COMPILE' });
  await assert.rejects(createPlugin({ wasm: [] }), { message: 'No wasm files specified in Extism manifest' });
  const bytes = readFileSync(pdk('echo'));
  const hash = createHash('sha256').update(bytes).digest('hex');
  const p = await createPlugin({ wasm: [{ data: bytes, hash }] });
  assert.equal(await echo(p), 'hi');
  // The JS SDK's text (C and Python keep the core's `Hash mismatch, found H but expected E`).
  await assert.rejects(createPlugin({ wasm: [{ data: bytes, hash: '00'.repeat(32) }] }), {
    message: `Plugin error: hash mismatch. Expected: ${'00'.repeat(32)}. Actual: ${hash}`,
    code: 'EXTISM_HASH_MISMATCH',
  });
  assert.throws(() => createPluginSync({ wasm: [{ data: bytes, hash: 'not a good hash' }] }), {
    message: /hash mismatch/,
    code: 'EXTISM_HASH_MISMATCH',
  });
});

test('an import nothing provides fails at creation', async () => {
  await assert.rejects(createPlugin(wat('host')), {
    message:
      'from module "main": cannot resolve import "extism:host/user" "hello_world": not provided by host imports nor linked manifest items',
    code: 'EXTISM_UNRESOLVED_IMPORT',
  });
});

// The JS SDK's texts for imports nothing provides, from the core's
// UnresolvedImport kind and the chain of modules it names.
test('unresolved imports get the JS SDK texts', async () => {
  const lhs = '(module (import "rhs" "add_one" (func (param i64) (result i64))) (func (export "f")))';
  const main = '(module (import "lhs" "f" (func)) (func (export "run") (result i32) (i32.const 0)))';
  await assert.rejects(
    createPlugin({ wasm: [{ data: Buffer.from(lhs), name: 'lhs' }, { data: Buffer.from(main), name: 'main' }] }),
    {
      message: 'from module "main"/"lhs": cannot resolve import "rhs" "add_one": not provided by host imports nor linked manifest items',
      code: 'EXTISM_UNRESOLVED_IMPORT',
    },
  );
  await assert.rejects(createPlugin(wat('host'), { functions: { 'extism:host/user': { other() {} } } }), {
    message:
      'from module "main": cannot resolve import "extism:host/user" "hello_world" ("extism:host/user" is a host module, but does not contain "hello_world")',
  });
});

test('multi-module manifests with names', async () => {
  const p = await createPlugin({ wasm: [{ path: wat('lib'), name: 'lib' }, { path: wat('uses_lib'), name: 'main' }] });
  // `run` returns 7 with no error: the core honours return codes.
  await assert.rejects(p.call('run'), { message: 'Plugin-originated error: Error code: 7', rc: 7 });
});

test('config: option, manifest, snake_case and precedence', async () => {
  const greet = async (p) => (await p.call('greet', 'you')).text();
  assert.equal(await greet(await createPlugin(pdk('config'))), 'Hello, you!');
  assert.equal(await greet(await createPlugin(pdk('config'), { config: { greeting: 'Hi' } })), 'Hi, you!');
  const manifest = { wasm: [{ path: pdk('config') }], config: { greeting: 'Yo' } };
  assert.equal(await greet(await createPlugin(manifest)), 'Yo, you!');
  assert.equal(await greet(await createPlugin(manifest, { config: { greeting: 'Hey' } })), 'Hey, you!');
  assert.equal(await greet(await createPlugin(JSON.stringify(manifest))), 'Yo, you!');
  const p = await createPlugin(wat('vars_config'), { config: { key: 'value' } });
  assert.equal((await p.call('config', 'key')).text(), 'value');
  assert.equal(await p.call('config', 'other'), null);
});

test('bad option types are TypeErrors', async () => {
  const cases = [
    [{ config: { a: 1 } }, /config\["a"\] must be a string/],
    [{ config: 'x' }, /config must be an object of strings/],
    [{ logLevel: 'loud' }, 'unrecognized log level "loud"; expected one of "trace", "debug", "info", "warn", "error", "silent"'],
    [{ functions: { ns: { f: 1 } } }, 'functions["ns"]["f"] must be a function, not number'],
    [{ functions: 'x' }, /"functions" must be an object/],
    [{ fuelLimit: -1 }, /fuelLimit must be a non-negative integer/],
    [{ fuelLimit: 1.5 }, /fuelLimit/],
    [{ timeoutMs: -5 }, /timeoutMs must be a non-negative number/],
    [{ memory: { maxPages: 'many' } }, /memory.maxPages/],
    [{ allowedHosts: 'example.com' }, /allowedHosts must be an array of strings/],
    [{ allowedPaths: { '/a': 3 } }, /allowedPaths/],
    [{ fetch: 'fetch' }, '"fetch" must be a function, not string'],
  ];
  for (const [opts, message] of cases) {
    await assert.rejects(createPlugin(wat('echo'), opts), { name: 'TypeError', message }, JSON.stringify(opts));
    assert.throws(() => createPluginSync(wat('echo'), opts), { name: 'TypeError', message });
  }
  await assert.rejects(createPlugin(wat('echo'), 'opts'), { name: 'TypeError' });
  // Accepted for compatibility, with no effect.
  const p = await createPlugin(wat('echo'), { runInWorker: true, nodeWorkerArgs: {}, sharedArrayBufferSize: 1, fetch });
  assert.equal(await echo(p), 'hi');
});

test('initializers run once per plugin', async () => {
  const p = await createPlugin(wat('init'));
  await assert.rejects(p.call('count'), { rc: 1 });
  await assert.rejects(p.call('count'), { rc: 1 });
});

test('the manifest timeout also bounds instantiation', async () => {
  const started = Date.now();
  await assert.rejects(createPlugin({ wasm: [{ path: wat('init_loop') }], timeout_ms: 200 }), {
    code: 'EXTISM_TIMEOUT',
    message: 'EXTISM: timed out while waiting for plugin to instantiate',
  });
  assert.throws(() => createPluginSync(wat('init_loop'), { timeoutMs: 100 }), { code: 'EXTISM_TIMEOUT' });
  assert.ok(Date.now() - started < 10_000);
});
