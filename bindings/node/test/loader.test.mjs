// The loader (lib/native.js) and the install script (scripts/install.js) as an
// installed package sees them: a copy of the package in a scratch
// node_modules, with or without the platform package that holds the prebuilt
// addon. (make test-dist installs the real tarballs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { packageDir, wat } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { triple, addonFile, platformPackage } = require('../lib/platform.js');

const t = triple();
const pkg = platformPackage(t);
const builtAddon = path.join(packageDir, addonFile(t));

/** A scratch project with @extism-rs/extism copied in (no addon, no vendor/). */
function project(t_) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'extism-loader-'));
  t_.after(() => rmSync(dir, { recursive: true, force: true }));
  const dest = path.join(dir, 'node_modules', '@extism-rs', 'extism');
  for (const item of ['package.json', 'index.js', 'index.mjs', 'lib', 'scripts']) {
    cpSync(path.join(packageDir, item), path.join(dest, item), { recursive: true });
  }
  writeFileSync(path.join(dir, 'package.json'), '{"name":"scratch","private":true}\n');
  return { dir, dest };
}

/** The platform package, its addon a link to the one built in the package directory. */
function addPlatformPackage(dir) {
  const platDir = path.join(dir, 'node_modules', ...pkg.split('/'));
  mkdirSync(platDir, { recursive: true });
  writeFileSync(path.join(platDir, 'package.json'), JSON.stringify({ name: pkg, version: '0.0.0', main: addonFile(t) }));
  symlinkSync(builtAddon, path.join(platDir, addonFile(t)));
}

function node(dir, args, env = {}) {
  const clean = { ...process.env, ...env };
  delete clean.EXTISM_NODE_ADDON;
  return spawnSync(process.execPath, args, { cwd: dir, env: clean, encoding: 'utf8' });
}

/** A PATH without cargo on it. */
function pathWithoutCargo() {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => d && !existsSync(path.join(d, 'cargo')))
    .join(path.delimiter);
}

test('without the platform package, require and import fail with the loader message, not a stack', (t_) => {
  const { dir } = project(t_);
  writeFileSync(path.join(dir, 'app.cjs'), "require('@extism-rs/extism');\n");
  writeFileSync(path.join(dir, 'app.mjs'), "import '@extism-rs/extism';\n");
  for (const entry of ['app.cjs', 'app.mjs']) {
    const r = node(dir, [entry]);
    assert.equal(r.status, 1, entry);
    assert.match(r.stderr, new RegExp(`no native addon for this platform \\(${t}\\)`), entry);
    assert.ok(r.stderr.includes(`the package ${pkg}`), r.stderr);
    assert.ok(r.stderr.includes('npm rebuild @extism-rs/extism'), r.stderr);
    const frames = r.stderr.split('\n').filter((line) => /^\s+at /.test(line));
    assert.ok(frames.length <= 1, `at most the caller's own frame:\n${r.stderr}`);
    assert.ok(!frames.some((line) => line.includes('node:internal')), r.stderr);
  }
  // A caller can tell this failure apart.
  const r = node(dir, ['-e', "try { require('@extism-rs/extism') } catch (e) { console.log(e.code) }"]);
  assert.equal(r.stdout.trim(), 'EXTISM_NO_ADDON');
});

test('the loader picks the platform package', { skip: !existsSync(builtAddon) && 'no built addon' }, (t_) => {
  const { dir } = project(t_);
  addPlatformPackage(dir);
  const script = `require('@extism-rs/extism')(${JSON.stringify(wat('count_vowels'))})
    .then((p) => p.call('count_vowels', 'aeiou')).then((o) => console.log(o.text()))`;
  const r = node(dir, ['-e', script]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '{"count":5}');
});

test('the install script uses a prebuilt addon and builds none', { skip: !existsSync(builtAddon) && 'no built addon' }, (t_) => {
  const { dir, dest } = project(t_);
  addPlatformPackage(dir);
  const r = node(dest, ['scripts/install.js'], { PATH: pathWithoutCargo() });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`using the prebuilt addon of ${pkg}.*nothing to build`));
  assert.ok(!existsSync(path.join(dest, addonFile(t))));
});

test('without a prebuilt addon the install script says it builds from source, and why it cannot', (t_) => {
  const { dest } = project(t_);
  const r = node(dest, ['scripts/install.js'], { PATH: pathWithoutCargo() });
  assert.equal(r.status, 1);
  assert.ok(r.stderr.includes(`no prebuilt addon (${pkg} is not installed): building it from source`), r.stderr);
  assert.match(r.stderr, /no Rust sources to build the addon from \(vendor\/ is missing\)/);
  // With the Rust sources there but no cargo on PATH.
  mkdirSync(path.join(dest, 'vendor'));
  writeFileSync(path.join(dest, 'vendor', 'Cargo.toml'), '[workspace]\nmembers = ["core", "bindings/node"]\n');
  const r2 = node(dest, ['scripts/install.js'], { PATH: pathWithoutCargo() });
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /cargo is not on PATH/);
});

test('a platform package whose addon does not load: the loader and the install script say so', (t_) => {
  const { dir, dest } = project(t_);
  const platDir = path.join(dir, 'node_modules', ...pkg.split('/'));
  mkdirSync(platDir, { recursive: true });
  writeFileSync(path.join(platDir, 'package.json'), JSON.stringify({ name: pkg, version: '0.0.0', main: addonFile(t) }));
  writeFileSync(path.join(platDir, addonFile(t)), 'not an addon');
  writeFileSync(path.join(dir, 'app.cjs'), "require('@extism-rs/extism');\n");
  const r = node(dir, ['app.cjs']);
  assert.equal(r.status, 1);
  assert.ok(r.stderr.includes(`(from ${pkg}) does not load on this machine`), r.stderr);
  const r2 = node(dest, ['scripts/install.js'], { PATH: pathWithoutCargo() });
  assert.equal(r2.status, 1);
  assert.ok(r2.stderr.includes(`no prebuilt addon (the addon of ${pkg} does not load here`), r2.stderr);
});
