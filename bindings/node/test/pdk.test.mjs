// The AssemblyScript PDK plugins (target/fixtures/as_*.wasm) through the addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import createPlugin, { createPluginSync } from '@extism-rs/extism';
import { pdk } from './helpers.mjs';

test('count_vowels', async () => {
  const p = await createPlugin(pdk('count_vowels'));
  assert.deepEqual((await p.call('count_vowels', 'hello world')).json(), { count: 3 });
  assert.deepEqual((await p.call('count_vowels', '')).json(), { count: 0 });
  assert.deepEqual(p.callSync('count_vowels', 'AEIOU and y').json(), { count: 6 });
});

test('vars persist across calls and resets', async () => {
  const p = await createPlugin(pdk('vars'));
  assert.equal((await p.call('count')).text(), '1');
  assert.equal((await p.call('count')).text(), '2');
  assert.equal(await p.reset(), true);
  assert.equal(p.callSync('count').text(), '3');
  const other = await createPlugin(pdk('vars'));
  assert.equal((await other.call('count')).text(), '1');
});

test('config with non-ASCII text', async () => {
  const p = await createPlugin(pdk('config'), { config: { greeting: 'Grüß dich' } });
  assert.equal((await p.call('greet', 'wörld ✓')).text(), 'Grüß dich, wörld ✓!');
});

test('echo and the unicode exports', async () => {
  const p = createPluginSync(pdk('echo'));
  const bytes = new Uint8Array(256).map((_, i) => i);
  assert.deepEqual([...p.callSync('echo', bytes).bytes()], [...bytes]);
  assert.equal(p.callSync('echo', ''), null);
  assert.equal(p.callSync('unicode').text(), 'héllo wörld');
  assert.equal((await p.call('unicode_bytes')).text(), 'héllo wörld ✓');
});

test('a large input and output', async () => {
  const p = await createPlugin(pdk('echo'));
  const big = Buffer.alloc(8 * 1024 * 1024, 'abc');
  const out = await p.call('echo', big);
  assert.equal(out.byteLength, big.length);
  assert.ok(Buffer.from(out.bytes()).equals(big));
});
