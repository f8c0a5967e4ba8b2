#!/usr/bin/env node
'use strict';
// The package's install script. The addon comes prebuilt in the platform
// package @extism-rs/extism-<triple> (an optional dependency, see
// lib/platform.js); only where none is installed, or it does not load here, is
// it built from source: with cargo (release), as extism.<platform>-<arch>[-<abi>].node
// next to index.js, the name `napi build --platform` gives. Each case says so.
//
// Where the Rust sources are:
// - in the repository (bindings/node inside the workspace): the workspace is
//   built, into its shared target dir (so wasmtime, already built there, is
//   reused), or CARGO_TARGET_DIR when set; here it always builds (a
//   development checkout has no prebuilt addon);
// - in a packed tarball: vendor/ holds a copy of the workspace (scripts/vendor.js
//   makes it at `npm pack`), built into vendor/target or CARGO_TARGET_DIR.
//
// Plain `cargo build`, not `napi build`: the napi CLI always passes `--target
// <triple>`, which puts the artifacts in target/<triple>/ and so rebuilds
// wasmtime (minutes) instead of reusing the workspace's target/release.
// `npm run build:napi` is there for napi's own tooling (native.d.ts).
//
// EXTISM_NODE_SKIP_BUILD=1 skips the build (for a prebuilt addon);
// EXTISM_NODE_BUILD_FROM_SOURCE=1 builds even where a prebuilt addon fits.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { PACKAGE, PREBUILT, triple, addonFile, platformPackage } = require('../lib/platform.js');

const pkgDir = path.resolve(__dirname, '..');
const CRATE = 'extism-node';

function say(message) {
  console.error(`${PACKAGE} install: ${message}`);
}

function fail(message) {
  say(message);
  process.exit(1);
}

function isWorkspace(root) {
  const manifest = path.join(root, 'Cargo.toml');
  if (!fs.existsSync(manifest)) return false;
  const text = fs.readFileSync(manifest, 'utf8');
  return /\[workspace\]/.test(text) && /"bindings\/node"/.test(text);
}

function locate() {
  const repo = path.resolve(pkgDir, '..', '..');
  if (isWorkspace(repo)) return { root: repo, targetDir: process.env.CARGO_TARGET_DIR || path.join(repo, 'target') };
  const vendor = path.join(pkgDir, 'vendor');
  if (isWorkspace(vendor)) {
    return { root: vendor, vendored: true, targetDir: process.env.CARGO_TARGET_DIR || path.join(vendor, 'target') };
  }
  return null;
}

function libraryName() {
  if (process.platform === 'win32') return 'extism_node.dll';
  if (process.platform === 'darwin') return 'libextism_node.dylib';
  return 'libextism_node.so';
}

function run(command, args, options) {
  say(`${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) fail(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} exited with status ${result.status}`);
}

/** Why no prebuilt addon is used here, or null when the platform package's addon loads. */
function noPrebuilt() {
  const t = triple();
  const pkg = platformPackage(t);
  if (!PREBUILT.includes(t)) return `there is no prebuilt package for ${t}`;
  let entry;
  try {
    entry = require.resolve(pkg, { paths: [pkgDir] });
  } catch {
    return `${pkg} is not installed`;
  }
  try {
    require(entry);
  } catch (error) {
    return `the addon of ${pkg} does not load here (${/** @type {Error} */ (error).message})`;
  }
  say(`using the prebuilt addon of ${pkg} (${entry}); nothing to build`);
  return null;
}

function main() {
  if (process.env.EXTISM_NODE_SKIP_BUILD) return;
  const where = locate();
  if (!where || where.vendored) {
    // An installed package: the prebuilt addon when one fits.
    if (process.env.EXTISM_NODE_BUILD_FROM_SOURCE) {
      say('EXTISM_NODE_BUILD_FROM_SOURCE is set: building the addon from source');
    } else {
      const why = noPrebuilt();
      if (!why) return;
      say(`no prebuilt addon (${why}): building it from source with cargo (needs Rust 1.85+ and crates.io; 10-20 minutes)`);
    }
    if (!where) fail('no Rust sources to build the addon from (vendor/ is missing)');
  }
  const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
  if (cargo.error || cargo.status !== 0) {
    fail(`cargo is not on PATH: install a Rust toolchain (1.85+, e.g. with rustup) to build the addon, or install ${platformPackage()}`);
  }
  const env = { ...process.env, CARGO_TARGET_DIR: where.targetDir };
  run('cargo', ['build', '--release', '-p', CRATE, '--manifest-path', path.join(where.root, 'Cargo.toml')], { env });
  const built = path.join(where.targetDir, 'release', libraryName());
  if (!fs.existsSync(built)) fail(`cargo did not produce ${built}`);
  const dest = path.join(pkgDir, addonFile());
  // Copy to a temporary name first: a process may have the old addon loaded.
  const tmp = `${dest}.tmp${process.pid}`;
  fs.copyFileSync(built, tmp);
  fs.renameSync(tmp, dest);
  say(`built ${path.relative(process.cwd(), dest) || dest}`);
  if (where.vendored && !process.env.CARGO_TARGET_DIR) {
    // An installed package keeps only the addon, not gigabytes of build products.
    fs.rmSync(where.targetDir, { recursive: true, force: true });
  }
}

main();
