// Loading with require and import: the CommonJS shape of the official SDK
// (require returns createPlugin carrying the named exports) and the ES module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import createPluginDefault, * as esm from '@extism-rs/extism';
import { packageDir, wat } from './helpers.mjs';

const require = createRequire(import.meta.url);

test('require returns createPlugin with the named exports', () => {
  const cjs = require('@extism-rs/extism');
  assert.equal(typeof cjs, 'function');
  for (const name of ['default', 'createPlugin', 'newPlugin']) assert.equal(cjs[name], cjs, name);
  assert.equal(typeof cjs.createPluginSync, 'function');
  assert.equal(cjs.newPluginSync, cjs.createPluginSync);
  assert.equal(typeof cjs.CAPABILITIES, 'object');
  assert.equal(typeof cjs.PluginOutput, 'function');
  assert.match(cjs.version, /^\d+\.\d+\.\d+/);
});

test('import gives the same objects', () => {
  const cjs = require('@extism-rs/extism');
  assert.equal(createPluginDefault, cjs);
  assert.equal(esm.default, cjs);
  assert.equal(esm.createPlugin, cjs);
  assert.equal(esm.newPlugin, cjs);
  assert.equal(esm.createPluginSync, cjs.createPluginSync);
  assert.equal(esm.PluginOutput, cjs.PluginOutput);
  assert.equal(esm.CAPABILITIES, cjs.CAPABILITIES);
});

test('CAPABILITIES as the Node build reports them', () => {
  assert.deepEqual(
    { ...esm.CAPABILITIES, extismStdoutEnvVarSet: undefined },
    {
      supportsJSPromiseInterface: true,
      allowSharedBufferCodec: false,
      manifestSupportsPaths: true,
      crossOriginChecksEnforced: false,
      fsAccess: true,
      hasWorkerCapability: true,
      supportsWasiPreview1: true,
      supportsTimeouts: true,
      extismStdoutEnvVarSet: undefined,
    },
  );
  assert.equal(esm.CAPABILITIES.extismStdoutEnvVarSet, Boolean(process.env.EXTISM_ENABLE_WASI_OUTPUT));
  assert.ok(Object.isFrozen(esm.CAPABILITIES));
});

function node(code, args = []) {
  return spawnSync(process.execPath, [...args, '-e', code], { cwd: packageDir, encoding: 'utf8', timeout: 30_000 });
}

test('a CommonJS script calls a plugin and exits by itself', () => {
  const r = node(`
    const createPlugin = require('./index.js');
    createPlugin(${JSON.stringify(wat('echo'))}).then(async (p) => {
      console.log((await p.call('echo', 'cjs')).text());
    });`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'cjs');
});

test('an ES module script calls a plugin and exits by itself', () => {
  const r = node(
    `
    import createPlugin from '@extism-rs/extism';
    const p = await createPlugin(${JSON.stringify(wat('echo'))});
    console.log((await p.call('echo', 'esm')).text());`,
    ['--input-type=module'],
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'esm');
});

test('an idle plugin does not keep the process alive', () => {
  const r = node(`
    const { createPluginSync } = require('./index.js');
    globalThis.keep = createPluginSync(${JSON.stringify(wat('echo'))});
    globalThis.keep.callSync('echo', 'x');`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.error, undefined);
});

test('Plugin and CallContext are exported classes that only the package constructs', async () => {
  let seen = null;
  const p = await esm.createPlugin(wat('host'), {
    functions: {
      'extism:host/user': {
        hello_world(ctx, addr) {
          seen = ctx;
          return addr;
        },
      },
    },
  });
  assert.ok(p instanceof esm.Plugin);
  assert.throws(() => new esm.Plugin(), { name: 'TypeError', message: /use createPlugin/ });
  assert.equal((await p.call('call_host', 'x')).text(), 'x');
  assert.ok(seen instanceof esm.CallContext);
  assert.ok(esm.createPluginSync(wat('echo')) instanceof esm.Plugin);
});
