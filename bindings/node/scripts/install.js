#!/usr/bin/env node
'use strict';
// Builds the native addon with cargo (release) and puts it next to index.js as
// extism.<platform>-<arch>[-<abi>].node, the name `napi build --platform` gives.
//
// Where the Rust sources are:
// - in the repository (bindings/node inside the workspace): the workspace is
//   built, into its shared target dir (so wasmtime, already built there, is
//   reused), or CARGO_TARGET_DIR when set;
// - in a packed tarball: vendor/ holds a copy of the workspace (scripts/vendor.js
//   makes it at `npm pack`), built into vendor/target or CARGO_TARGET_DIR.
//
// Plain `cargo build`, not `napi build`: the napi CLI always passes `--target
// <triple>`, which puts the artifacts in target/<triple>/ and so rebuilds
// wasmtime (minutes) instead of reusing the workspace's target/release.
// `npm run build:napi` is there for napi's own tooling (native.d.ts).
//
// EXTISM_NODE_SKIP_BUILD=1 skips the build (for a prebuilt addon).

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.resolve(__dirname, '..');
const CRATE = 'extism-node';

function fail(message) {
  console.error(`@extism-rs/extism install: ${message}`);
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

function triple() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
    return `${platform}-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (platform === 'win32') return `${platform}-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function libraryName() {
  if (process.platform === 'win32') return 'extism_node.dll';
  if (process.platform === 'darwin') return 'libextism_node.dylib';
  return 'libextism_node.so';
}

function run(command, args, options) {
  console.error(`@extism-rs/extism install: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) fail(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} exited with status ${result.status}`);
}

function main() {
  if (process.env.EXTISM_NODE_SKIP_BUILD) return;
  const where = locate();
  if (!where) fail('no Rust sources found (neither the repository workspace nor vendor/)');
  const env = { ...process.env, CARGO_TARGET_DIR: where.targetDir };
  run('cargo', ['build', '--release', '-p', CRATE, '--manifest-path', path.join(where.root, 'Cargo.toml')], { env });
  const built = path.join(where.targetDir, 'release', libraryName());
  if (!fs.existsSync(built)) fail(`cargo did not produce ${built}`);
  const dest = path.join(pkgDir, `extism.${triple()}.node`);
  // Copy to a temporary name first: a process may have the old addon loaded.
  const tmp = `${dest}.tmp${process.pid}`;
  fs.copyFileSync(built, tmp);
  fs.renameSync(tmp, dest);
  console.error(`@extism-rs/extism install: built ${path.relative(process.cwd(), dest) || dest}`);
  if (where.vendored && !process.env.CARGO_TARGET_DIR) {
    // An installed package keeps only the addon, not gigabytes of build products.
    fs.rmSync(where.targetDir, { recursive: true, force: true });
  }
}

main();
