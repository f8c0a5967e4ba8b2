#!/usr/bin/env node
'use strict';
// `npm pack` support: copy the Rust workspace this package builds from (the
// root Cargo.toml and Cargo.lock, core/, and this crate) into vendor/, so that
// the tarball installs on a machine without the repository. `--clean` removes it.
// `--out DIR` writes the copy to DIR instead (scripts/pack.js, for `make dist`).

const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.resolve(__dirname, '..');
const repo = path.resolve(pkgDir, '..', '..');
const out = process.argv.indexOf('--out');
const vendor = out > 0 && process.argv[out + 1] ? path.resolve(process.argv[out + 1]) : path.join(pkgDir, 'vendor');

if (process.argv.includes('--clean')) {
  fs.rmSync(vendor, { recursive: true, force: true });
  process.exit(0);
}

const rootManifest = path.join(repo, 'Cargo.toml');
if (!fs.existsSync(rootManifest)) {
  console.error('vendor.js: the repository workspace is not at ../..; cannot vendor the Rust sources');
  process.exit(1);
}

fs.rmSync(vendor, { recursive: true, force: true });
fs.mkdirSync(vendor, { recursive: true });

// The workspace, reduced to the two crates the addon needs.
const manifest = fs
  .readFileSync(rootManifest, 'utf8')
  .replace(/^members\s*=\s*\[[^\]]*\]/m, 'members = ["core", "bindings/node"]');
fs.writeFileSync(path.join(vendor, 'Cargo.toml'), manifest);
for (const file of ['Cargo.lock', 'rustfmt.toml']) {
  const from = path.join(repo, file);
  if (fs.existsSync(from)) fs.copyFileSync(from, path.join(vendor, file));
}

const copy = (from, to) => fs.cpSync(from, to, { recursive: true });
copy(path.join(repo, 'core', 'Cargo.toml'), path.join(vendor, 'core', 'Cargo.toml'));
copy(path.join(repo, 'core', 'src'), path.join(vendor, 'core', 'src'));
const crate = path.join(vendor, 'bindings', 'node');
for (const item of ['Cargo.toml', 'build.rs', 'src']) copy(path.join(pkgDir, item), path.join(crate, item));
console.error(`vendor.js: Rust sources copied to ${path.relative(process.cwd(), vendor) || vendor}`);
