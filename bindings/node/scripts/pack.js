#!/usr/bin/env node
'use strict';
// `make dist` for Node: packs the two tarballs a user installs, the napi-rs way.
//
//   node scripts/pack.js OUT_DIR
//
// - @extism-rs/extism: the JS package (as `npm pack` makes it, with the Rust
//   sources in vendor/ for a build from source), whose package.json also lists
//   the platform packages in optionalDependencies, at this version;
// - @extism-rs/extism-<triple>, for this machine's triple (npm/<triple>/): its
//   package.json (os, cpu, libc) and the addon built by scripts/install.js
//   (extism.<triple>.node next to index.js), without its debug info.
//
// The optionalDependencies are added here, in a staging copy, and not kept in
// the repository's package.json: the platform packages are not published, and
// a development `npm install` must neither look them up in the registry nor
// install whatever someone else publishes under their names.
//
// Staging is in <target dir>/dist-node (CARGO_TARGET_DIR honoured).

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { PACKAGE, PREBUILT, triple, addonFile, platformPackage } = require('../lib/platform.js');

const pkgDir = path.resolve(__dirname, '..');
const repo = path.resolve(pkgDir, '..', '..');

function fail(message) {
  console.error(`pack.js: ${message}`);
  process.exit(1);
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.error) fail(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with status ${result.status}`);
  return result.stdout;
}

/** `npm pack` of dir into out; returns the tarball's path. */
function pack(dir, out) {
  const json = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], dir);
  const [info] = JSON.parse(json);
  const file = path.join(out, info.filename);
  console.error(`pack.js: ${info.name}@${info.version}: ${file} (${(info.size / 1e6).toFixed(1)} MB, ${info.entryCount} files)`);
  return file;
}

function main() {
  const outArg = process.argv[2];
  if (!outArg) fail('usage: node scripts/pack.js OUT_DIR');
  const out = path.resolve(outArg);
  fs.mkdirSync(out, { recursive: true });

  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const t = triple();
  const platformDir = path.join(pkgDir, 'npm', t);
  if (!PREBUILT.includes(t) || !fs.existsSync(path.join(platformDir, 'package.json'))) {
    fail(`no platform package for ${t}: add npm/${t}/package.json (as npm/linux-x64-gnu/) and ${t} to PREBUILT in lib/platform.js`);
  }
  const addon = path.join(pkgDir, addonFile(t));
  if (!fs.existsSync(addon)) fail(`${addon} is missing: build it first with \`node scripts/install.js\``);

  const targetDir = process.env.CARGO_TARGET_DIR || path.join(repo, 'target');
  const stage = path.join(targetDir, 'dist-node');
  fs.rmSync(stage, { recursive: true, force: true });

  // The JS package.
  const main = path.join(stage, 'extism');
  fs.mkdirSync(main, { recursive: true });
  for (const entry of pkg.files) {
    if (entry.replace(/\/$/, '') === 'vendor') continue;
    const from = path.join(pkgDir, entry);
    if (fs.existsSync(from)) fs.cpSync(from, path.join(main, entry), { recursive: true });
  }
  run('node', [path.join(__dirname, 'vendor.js'), '--out', path.join(main, 'vendor')], pkgDir);
  const manifest = { ...pkg, scripts: { ...pkg.scripts } };
  // vendor/ is already in place; the staging copy is not inside the repository.
  delete manifest.scripts.prepack;
  delete manifest.scripts.postpack;
  manifest.optionalDependencies = Object.fromEntries(PREBUILT.map((p) => [platformPackage(p), pkg.version]));
  fs.writeFileSync(path.join(main, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  // The platform package.
  const plat = path.join(stage, t);
  fs.cpSync(platformDir, plat, { recursive: true, filter: (src) => !src.endsWith('.node') });
  const platManifest = JSON.parse(fs.readFileSync(path.join(plat, 'package.json'), 'utf8'));
  if (platManifest.name !== platformPackage(t)) fail(`npm/${t}/package.json is named ${platManifest.name}, not ${platformPackage(t)}`);
  if (platManifest.main !== addonFile(t)) fail(`npm/${t}/package.json: main must be ${addonFile(t)}`);
  platManifest.version = pkg.version;
  fs.writeFileSync(path.join(plat, 'package.json'), `${JSON.stringify(platManifest, null, 2)}\n`);
  const dest = path.join(plat, addonFile(t));
  fs.copyFileSync(addon, dest);
  if (process.platform === 'linux') run('strip', ['--strip-debug', dest], plat);

  pack(main, out);
  pack(plat, out);
  console.error(`pack.js: ${PACKAGE} lists ${Object.keys(manifest.optionalDependencies).join(', ')} in optionalDependencies`);
}

main();
